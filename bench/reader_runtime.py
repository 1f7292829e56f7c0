"""How fast a llama.cpp runtime answers reader questions on this CPU: one fixed workload, in process
(the app's own runtime on xllamacpp, llama-cpp-python, or a drop-in binding with the same `Llama`
API) or against an OpenAI-compatible server such as llama-server.

    python -m bench.reader_runtime --model PATH [--server URL] [--threads 2] [--n-ctx 2048]
                                   [--logits-all] [--no-prefix-cache] [--binding xllamacpp|llama_cpp]
                                   [--against BINDING] [--json OUT]

`--binding xllamacpp` (the default) times `assistant/answering/reader/runtime.py` itself, as the
reader calls it; `--binding llama_cpp` times llama-cpp-python's `Llama` with the logits processor
the reader used before.

The workload: a fixed system prompt first (so llama.cpp can reuse its evaluated prefix), then 3-5
numbered sentences of a made-up news article and a question (~150 prompt tokens); greedy, at most
24 answer tokens; one warm-up question, then 20 timed ones, one at a time. Printed: the CPU and its
SIMD flags, the load average before and after, load time (in process only), per-answer p50/p95,
prompt and generation tokens/s (prompt tokens counted as evaluated, i.e. after prefix reuse), and
each answer with the mean log-probability of its tokens. `--against BINDING` times a second
runtime beside the first, each in its own process, each question asked of both in turn, so both
meet the same load on shared cores. Nothing runs at import.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing
import os
import time
from pathlib import Path

SYSTEM = ("Answer the question with a short phrase copied from the numbered sentences. "
          "If the sentences do not answer it, reply: unknown. Reply with the phrase only.")
SENTENCES = [
    "The city council of Marlow Bay approved a 42.5 million dollar budget for a new harbour bridge on March 3, 2024.",
    "Construction will be led by Okafor & Lind Engineering, a firm based in the nearby town of Tessaly.",
    "Chief engineer Priya Ramanathan said the bridge would span 780 metres and carry four lanes of traffic.",
    "Work is scheduled to begin on June 17 and should be finished by the autumn of 2027.",
    "Opposition councillor Martin Ebbesen voted against the plan, citing rising steel prices.",
    "The old ferry service, which carried about 3,200 passengers a day, will stop once the bridge opens.",
    "Ferry operator Bluewater Lines will receive 6 million dollars in compensation for its lost route.",
    "Residents of the Harrow Point district collected 1,150 signatures asking for a separate pedestrian lane.",
    "Mayor Elena Duarte promised a public hearing on the pedestrian lane in May.",
    "The regional transport agency will cover 30 percent of the total cost.",
    "A toll of 2.50 dollars per car is planned for the first ten years of operation.",
    "Local fishermen worry that the bridge piers will disturb the oyster beds near Gull Island.",
]
WARMUP = ("What will be built in Marlow Bay?", 0, 4)
QUESTIONS = [  # (question, first sentence, end): each prompt shows SENTENCES[first:end], renumbered from 1
    ("How much money did the council approve for the bridge?", 0, 4), ("When was the budget approved?", 0, 4),
    ("Which firm will lead the construction?", 0, 4), ("Who is the chief engineer?", 1, 5),
    ("How long will the bridge be?", 1, 5), ("When will work begin?", 2, 6), ("Who voted against the plan?", 3, 7),
    ("Why did Martin Ebbesen vote against the plan?", 3, 7), ("How many passengers did the ferry carry a day?", 4, 8),
    ("How much compensation will Bluewater Lines receive?", 4, 9), ("How many signatures did residents collect?", 6, 10),
    ("Who is the mayor of Marlow Bay?", 7, 11), ("What share of the cost will the transport agency cover?", 7, 12),
    ("How much is the planned toll per car?", 8, 12), ("What do local fishermen worry about?", 9, 12),
    ("How many lanes will the bridge carry?", 1, 5), ("What is the population of Marlow Bay?", 0, 4),
    ("Who designed the old ferry terminal?", 4, 8), ("How old is Priya Ramanathan?", 1, 5),
    ("What is the name of the new bridge?", 1, 6),
]


def messages(question: str, first: int, end: int) -> list[dict]:
    lines = "\n".join(f"[{i}] {s}" for i, s in enumerate(SENTENCES[first:end], 1))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{lines}\n\nQuestion: {question}"}]


class InProcess:
    """A `Llama` from llama_cpp (or a binding with the same API), streamed as the app streams it."""

    def __init__(self, args):
        self.binding = importlib.import_module(args.binding)
        self.version = f"{args.binding} {getattr(self.binding, '__version__', '?')}"
        self.logits_all, self.no_prefix_cache = args.logits_all, args.no_prefix_cache
        start = time.perf_counter()
        self.llama = self.binding.Llama(model_path=args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                                        n_threads_batch=args.threads, logits_all=args.logits_all, verbose=False)
        self.load_s = time.perf_counter() - start

    def ask(self, msgs: list[dict], max_tokens: int) -> dict:
        import numpy as np

        logprobs: list[float] = []

        def record(_ids, scores):  # log-softmax of the greedy token: what assistant/answering/reader records
            row = np.asarray(scores, dtype=np.float64)
            logprobs.append(float(-math.log(np.exp(row - row.max()).sum())))
            return scores

        if self.no_prefix_cache:
            self.llama.reset()
        perf, ctx = getattr(self.binding, "llama_perf_context", None), self.llama._ctx.ctx
        if perf:
            self.binding.llama_perf_context_reset(ctx)
        # llama-cpp-python returns no logprobs for logprobs=True alone: top_logprobs must be set too
        extra = {"logprobs": True, "top_logprobs": 1} if self.logits_all else {"logits_processor": [record]}
        text, first, start = "", None, time.perf_counter()
        for chunk in self.llama.create_chat_completion(msgs, temperature=0.0, max_tokens=max_tokens, stream=True,
                                                       **extra):
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content")
            if piece:
                first = first or time.perf_counter()
                text += piece
            if self.logits_all and choice.get("logprobs"):
                logprobs.extend(t["logprob"] for t in choice["logprobs"]["content"])
        row = {"text": text.strip(), "s": time.perf_counter() - start, "ttft_s": (first or start) - start,
               "logprobs": logprobs}
        if perf:
            data = perf(ctx)
            row.update(prompt_n=data.n_p_eval, prompt_ms=data.t_p_eval_ms, gen_n=data.n_eval, gen_ms=data.t_eval_ms)
        return row


class AppRuntime:
    """The app's runtime (`LlamaReader` on xllamacpp), streamed as the reader streams it."""

    def __init__(self, args):
        from assistant.answering.reader.runtime import LlamaReader

        if args.logits_all or args.no_prefix_cache:
            raise SystemExit("--logits-all and --no-prefix-cache apply to --binding llama_cpp only")
        self.reader = LlamaReader(Path(args.model), threads=args.threads, n_ctx=args.n_ctx)  # before OpenMP loads
        start = time.perf_counter()
        self.reader.server  # noqa: B018 - loads the model
        self.load_s = time.perf_counter() - start
        import xllamacpp

        self.version = f"xllamacpp {xllamacpp.__version__}; {xllamacpp.get_system_info().strip()}"

    def ask(self, msgs: list[dict], max_tokens: int) -> dict:
        from assistant.answering.reader.runtime import Generation

        generation, first, start = Generation(), None, time.perf_counter()
        for _piece in self.reader.generate(msgs, generation, max_tokens=max_tokens):
            first = first or time.perf_counter()
        t = generation.timings
        return {"text": generation.text.strip(), "s": time.perf_counter() - start, "ttft_s": (first or start) - start,
                "logprobs": generation.logprobs, "prompt_n": t.get("prompt_n"), "prompt_ms": t.get("prompt_ms"),
                "gen_n": t.get("predicted_n"), "gen_ms": t.get("predicted_ms")}


class Server:
    """An OpenAI-compatible /v1/chat/completions; llama-server adds `timings` to each answer."""

    def __init__(self, args):
        from openai import OpenAI

        url = args.server.rstrip("/").removesuffix("/v1") + "/v1"
        self.client = OpenAI(base_url=url, api_key="none", timeout=600)
        self.model, self.no_prefix_cache, self.load_s = args.model, args.no_prefix_cache, None
        self.version = f"server {args.server}"

    def ask(self, msgs: list[dict], max_tokens: int) -> dict:
        start = time.perf_counter()
        resp = self.client.chat.completions.create(
            model=self.model, messages=msgs, temperature=0.0, max_tokens=max_tokens, logprobs=True,
            extra_body={"cache_prompt": not self.no_prefix_cache})
        seconds, choice = time.perf_counter() - start, resp.choices[0]
        content = choice.logprobs.content if choice.logprobs and choice.logprobs.content else []
        row = {"text": (choice.message.content or "").strip(), "s": seconds, "logprobs": [t.logprob for t in content]}
        timings = (resp.model_extra or {}).get("timings")
        if timings:
            row.update(prompt_n=timings.get("prompt_n"), prompt_ms=timings.get("prompt_ms"),
                       gen_n=timings.get("predicted_n"), gen_ms=timings.get("predicted_ms"))
        elif resp.usage:
            row.update(prompt_n=resp.usage.prompt_tokens, gen_n=resp.usage.completion_tokens)
        return row


def rate(rows: list[dict], n: str, ms: str) -> float | None:
    tokens, millis = sum(r.get(n) or 0 for r in rows), sum(r.get(ms) or 0 for r in rows)
    return round(tokens / millis * 1000, 1) if tokens and millis else None


def make_runner(args):
    return Server(args) if args.server else AppRuntime(args) if args.binding == "xllamacpp" else InProcess(args)


class Child:
    """A runner in a child process of its own (its own llama.cpp and OpenMP runtime), asked one
    question at a time, so that two runtimes can take turns on each question."""

    def __init__(self, args):
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_child, args=(child_end, args), daemon=True)
        self.process.start()
        self.version, self.load_s = self.conn.recv()

    def ask(self, msgs: list[dict], max_tokens: int) -> dict:
        self.conn.send((msgs, max_tokens))
        return self.conn.recv()

    def close(self) -> float:
        """CPU seconds the child used."""
        self.conn.send(None)
        cpu = self.conn.recv()
        self.process.join(60)
        return cpu


def _child(conn, args) -> None:
    runner = make_runner(args)
    conn.send((runner.version, runner.load_s))
    while (job := conn.recv()) is not None:
        conn.send(runner.ask(*job))
    times = os.times()
    conn.send(times.user + times.system)


def summarise(args, runner, warm: dict, rows: list[dict], cpu_s: float, load_before) -> dict:
    from bench import environment
    from bench.lib import percentile

    seconds = [r["s"] for r in rows]
    return {
        "cpu": environment.machine()["cpu"], "cpu_flags": environment.cpu_flags(), "threads": args.threads,
        "runtime": runner.version, "model": args.model,
        "logits_all": args.logits_all, "prefix_cache": not args.no_prefix_cache,
        "load_s": None if runner.load_s is None else round(runner.load_s, 2), "warmup_s": round(warm["s"], 3),
        "p50_s": round(percentile(seconds, 50), 3), "p95_s": round(percentile(seconds, 95), 3),
        "mean_s": round(sum(seconds) / len(seconds), 3),
        "prompt_tokens_evaluated_mean": round(sum(r.get("prompt_n") or 0 for r in rows) / len(rows), 1),
        "prompt_tok_s": rate(rows, "prompt_n", "prompt_ms"), "gen_tok_s": rate(rows, "gen_n", "gen_ms"),
        "cpu_s": round(cpu_s, 1), "loadavg_before": load_before, "loadavg_after": environment.loadavg(),
    }


def report(summary: dict, rows: list[dict]) -> None:
    for key, value in summary.items():
        print(f"{key:>30}: {value}")
    for r in rows:
        r["mean_logprob"] = round(sum(r["logprobs"]) / len(r["logprobs"]), 3) if r["logprobs"] else None
        print(f"  {r['s']:6.2f}s  lp={r['mean_logprob']}  {r['question']} -> {r['text']!r}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.reader_runtime", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="GGUF path (in process), or the model name sent to --server")
    parser.add_argument("--server", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080")
    for flag, default in (("--threads", 2), ("--n-ctx", 2048), ("--max-tokens", 24)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--logits-all", action="store_true", help="in process: logits_all=True, logprobs=True")
    parser.add_argument("--no-prefix-cache", action="store_true", help="re-evaluate the whole prompt every time")
    parser.add_argument("--binding", default="xllamacpp",
                        help="xllamacpp: the app's runtime; else a module with a llama_cpp-compatible Llama class")
    parser.add_argument("--against", metavar="BINDING",
                        help="also time this binding, each question asked of both in turn, each in its own process")
    parser.add_argument("--json", type=Path, help="write the settings, summary and every answer here")
    args = parser.parse_args(argv)

    from bench import environment

    load_before, cpu_before = environment.loadavg(), os.times()
    if not args.against:
        runner = make_runner(args)
        warm = runner.ask(messages(*WARMUP), args.max_tokens)
        rows = [{**runner.ask(messages(q, first, end), args.max_tokens), "question": q} for q, first, end in QUESTIONS]
        cpu_after = os.times()
        summary = summarise(args, runner, warm, rows, cpu_after.user + cpu_after.system - cpu_before.user
                            - cpu_before.system, load_before)
        report(summary, rows)
        if args.json:
            args.json.write_text(json.dumps({"summary": summary, "answers": rows}, indent=1))
        return summary

    # Paired: on shared cores the load moves within seconds, so each question goes to both runtimes
    # back to back (which goes first alternates), and each runtime's figures come from the same moments.
    other = argparse.Namespace(**{**vars(args), "binding": args.against, "server": None})
    runners = [Child(args), Child(other)]
    warm = [r.ask(messages(*WARMUP), args.max_tokens) for r in runners]
    rows: list[list[dict]] = [[], []]
    for n, (question, first, end) in enumerate(QUESTIONS):
        for i in ((0, 1) if n % 2 == 0 else (1, 0)):
            rows[i].append({**runners[i].ask(messages(question, first, end), args.max_tokens), "question": question})
    cpu = [r.close() for r in runners]
    summaries = [summarise(a, r, w, rs, c, load_before) for a, r, w, rs, c in zip((args, other), runners, warm, rows, cpu)]
    for summary, rs in zip(summaries, rows):
        report(summary, rs)
        print()
    ratios = sorted(b["s"] / a["s"] for a, b in zip(*rows))
    paired = {"runtime": runners[0].version, "against": runners[1].version,
              "median_time_ratio_against_over_runtime": round(ratios[len(ratios) // 2], 3),
              "questions_runtime_faster": sum(a["s"] < b["s"] for a, b in zip(*rows)), "questions": len(QUESTIONS)}
    for key, value in paired.items():
        print(f"{key:>40}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"paired": paired, "summaries": summaries, "answers": rows}, indent=1))
    return paired


if __name__ == "__main__":
    main()
