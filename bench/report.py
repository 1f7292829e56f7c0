"""Regenerate BENCHMARKS.md from the JSON results in bench/out/ (no number in it is typed by hand).

    python -m bench.report [--out-dir bench/out] [--output BENCHMARKS.md]

The tables are rendered by the same functions that `python -m bench.eval` and `python -m bench.perf`
print with. Results recorded before the scripts ran as modules say `python bench/X.py`; they are
shown as `python -m bench.X`, the command that re-runs them now.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bench.lib import OUT, ROOT, read_json, targets

_SCRIPT_COMMAND = re.compile(r"^((?:\w+=\S* )*)python bench/(\w+)\.py\b")  # after any NEWSQA_X=... settings
# Where a run wrote its JSON is not how to reproduce its figures: `report --out-dir` reads them there.
_OUT_DIR = re.compile(r" --out-dir \S+")

EARLIER_RUNS = Path(__file__).resolve().parent / "earlier_runs.md"
EVAL_ORDER = ("realtimeqa", "squad2", "rgb", "rgb_counterfactual", "multihop")
TITLES = {
    "realtimeqa": "RealTime QA (news, 10 weeks of 2023 with articles)",
    "squad2": "SQuAD 2.0 (500-question dev sample)",
    "rgb": "RGB en_fact, true snippets (positive + negative)",
    "rgb_counterfactual": "RGB en_fact, counterfactual snippets (positive_wrong + negative)",
    "multihop": "MultiHop-RAG (500-query sample, evidence facts only)",
}


def command(result: dict, default: str = "") -> str:
    """The command that re-runs a result, as a reader types it from the repository root."""
    return _OUT_DIR.sub("", _SCRIPT_COMMAND.sub(r"\1python -m bench.\2", result.get("command") or default))


def f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def ms(value) -> str:
    return "–" if value is None else (f"{value:.0f}" if value >= 10 else f"{value:.1f}")


def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- eval ---------------------------------------------------------------------------------------

def render_eval(result: dict, heading: str = "###") -> str:
    s, k, name = result["scores"], result["k"], result["dataset"]
    title = TITLES.get(name, name)
    if result.get("limit") or result.get("small_corpus"):
        title += " — PARTIAL RUN"
    out = [f"{heading} {title}", "", f"`{command(result)}`", ""]
    out += [f"- {note}" for note in result.get("notes", [])]
    ing = result["ingest"]
    if ing.get("reused_index"):
        out.append(f"- The index was REUSED from an earlier run ({ing['unchanged']} articles unchanged; it holds "
                   f"{ing.get('index_passages', '?')} passages in all), so no ingest rate is given; bench/perf.py "
                   "measures ingestion.")
    indexed = (f"- Index: {ing['articles']} articles, {ing.get('index_passages', '?')} passages (reused); engine mode "
               if ing.get("reused_index") else
               f"- Index: {ing['articles']} articles → {ing['passages']} passages in {ing['seconds']:.0f} s "
               f"({f(ing['articles_per_s'], 1)} articles/s, {f(ing['passages_per_s'], 1)} passages/s); engine mode ")
    out += [
        indexed +
        f"`{result['engine']['mode']}`, abstain threshold {f(result['engine']['abstain_threshold'])}, k={k}, embeddings "
        f"`{result['engine']['settings'].get('embedding_model')}` "
        + (f"(loaded in {f(result['model_load_s'], 1)} s, not counted)." if "model_load_s" in result
           else "(the model load is included in the ingest time).") ,
        f"- Finished {result['machine']['date']}, load average {result.get('loadavg_start')} → {result.get('loadavg_end')}; "
        f"engine code `{result['machine'].get('code', '?')}` (hash of assistant/ and index/ sources"
        + (f"; it was `{result['code_at_start']}` when the run started: the code changed during the run" 
           if result.get("code_at_start") not in (None, result["machine"].get("code")) else "") + ").",
        "",
    ]
    rows = [
        ["questions (answerable / unanswerable)", f"{s['n']} ({s['answerable']} / {s['unanswerable']})"],
        ["gold answer occurs in some indexed article (retrieval ceiling)", f(s.get("gold_in_corpus"))],
        [f"retrieval recall@{k} (a retrieved passage contains the gold)", f(s["recall_at_k"])],
        ["retrieval recall@1", f(s.get("recall_at_1"))],
        [f"answer accuracy (gold in the answer, ≤ 60 words; answerable)", f(s["answer_accuracy"])],
        ["short-answer EM / F1 (dataset's own rules, all scored questions)", f"{f(s['em'])} / {f(s['f1'])}"],
        ["short-answer EM / F1, answerable only", f"{f(s['em_answerable'])} / {f(s['f1_answerable'])}"],
        ["abstention rate (all)", f(s["abstention_rate"])],
        ["abstention precision / recall (on unanswerable)", f"{f(s['abstention_precision'])} / {f(s['abstention_recall'])}"],
        ["wrong-abstention rate (answerable questions abstained on)", f(s["wrong_abstention_rate"])],
        ["answers over 60 words", f(s["too_long_rate"])],
        ["citation precision (cited evidence contains the gold)", f(s["citation_precision"])],
        ["answered questions with ≥ 1 supporting citation", f(s["answers_with_supporting_citation"])],
        ["citation validity (evidence verbatim in passage and `text[start:end]`)", f"{f(s['citation_validity'])} ({s['citations']} citations)"],
    ]
    if "misled_rate" in s and name == "rgb_counterfactual":
        rows += [["misled (answer repeats the planted fake answer)", f(s["misled_rate"])],
                 [f"fake answer retrieved@{k}", f(s["fake_recall_at_k"])]]
    if name == "multihop":
        rows += [
            ["official accuracy (shared lower-cased token with gold; abstain = 'Insufficient information.')", f(s["official_hit"])],
            [f"evidence Hits@4 / Hits@{k} (any gold fact in the top passages)", f"{f(s['hits_at_4'])} / {f(s['hits_at_k'])}"],
            [f"all gold facts in top {k} / mean fact recall / MRR", f"{f(s['all_facts_at_k'])} / {f(s['fact_recall_at_k'])} / {f(s['mrr_at_k'])}"],
        ]
    out += [table(["metric", "ours"], rows), ""]

    lat = s.get("latency_ms", {})
    stages = [st for st in ("embed_ms", "retrieve_ms", "answer_ms", "total_ms", "wall_ms") if st in lat]
    if stages:
        out += ["Latency per question, ms (warm, one client):", "",
                table(["", *[st.removesuffix("_ms") for st in stages]],
                      [["p50", *[ms(lat[st]["p50"]) for st in stages]], ["p95", *[ms(lat[st]["p95"]) for st in stages]]]),
                "", "(retrieve includes embed: the question is embedded beside lexical search.)", ""]

    if name == "multihop" and s.get("by_question_type"):
        out += ["By question type:", "", table(
            ["type", "n", "official accuracy", "answer accuracy", "abstained", f"all facts in top {k}"],
            [[t, v["n"], f(v["official_hit"]), f(v["answer_accuracy"]), f(v["abstention_rate"]), f(v["all_facts_at_k"])]
             for t, v in s["by_question_type"].items()]), ""]

    base = result.get("baselines") or {}
    if base.get("rows"):
        out += [f"Published systems ({base['note']}):", ""]
        if name == "squad2":
            rows = [[f"**ours** (retrieval over 411 paragraphs + extractive)", pct(s["em"]), pct(s["f1"])]]
            rows += [[r["system"], pct(r["em"]), pct(r["f1"])] for r in base["rows"]]
            out += [table(["system", "EM %", "F1 %"], rows), ""]
        elif name == "realtimeqa":
            rows = [["**ours** (pooled retrieval + extractive short answer)", f(s["em"]), f(s["f1"]), "–"]]
            rows += [[r["system"], f(r["em"]), f(r["f1"]), f(r.get("mc_accuracy"))] for r in base["rows"]]
            out += [table(["system", "gen EM", "gen F1", "MC accuracy"], rows), ""]
        elif name == "multihop":
            rows = [[f"**ours** (evidence-facts pool, extractive)", f(s["official_hit"]), f(s["hits_at_4"]), f"{f(s['hits_at_k'])} (@{k})"]]
            rows += [[r["system"], f(r.get("accuracy")), f(r.get("hits_at_4")), f(r.get("hits_at_10")) + (" (@10)" if r.get("hits_at_10") else "")]
                     for r in base["rows"]]
            out += [table(["system", "accuracy", "Hits@4", "Hits@k"], rows), ""]
    elif base.get("note"):
        out += [f"Published systems: {base['note']}.", ""]
    return "\n".join(out)


def weak_spots(result: dict, limit: int = 5) -> str:
    """A few failures where the gold was retrieved but the answer missed it: where to look first."""
    rows = [r for r in result.get("questions", []) if r["answerable"] and r.get("retrieved") and not r["correct"]]
    if not rows:
        return ""
    out = [f"Examples where the gold was retrieved but the answer missed it ({len(rows)} such questions; first {min(limit, len(rows))}):", ""]
    for r in rows[:limit]:
        answer = r["answer"].replace("\n", " ").replace("|", "/")
        out.append(f"- *{r['question']}* gold **{r['golds'][0]}** → "
                   f"{'abstained' if r['abstained'] else '“' + answer[:160] + ('…' if len(answer) > 160 else '') + '”'}"
                   f"{' (short: ' + r['short_answer'] + ')' if r['short_answer'] else ''}"
                   f"{' — counted wrong: over 60 words' if r.get('too_long') else ''}")
    return "\n".join(out) + "\n"


# --- perf ---------------------------------------------------------------------------------------

def render_perf(result: dict, heading: str = "###") -> str:
    out = [f"{heading} Performance: our pipeline vs the LangChain-tutorial baseline", "", f"`{command(result)}`", ""]
    out += [f"- {note}" for note in result.get("notes", [])]
    out += [f"- Started {result['machine']['date']}, load average {result.get('loadavg_start')} → {result.get('loadavg_end')} at the end; "
            f"engine code `{result['machine'].get('code', '?')}`.", ""]

    ing = result.get("ingest")
    if ing:
        ours, base = ing["ours"], ing["baseline"]
        out += [f"{heading}# Ingestion ({ing['articles']} RealTime QA articles, same for both)", "",
                table(["pipeline", "passages", "seconds", "articles/s", "passages/s", "CPU s", "passages/CPU-s",
                       f"recall@4 ({ing.get('questions', '?')} questions)"], [
                    ["ours (sentence passages, hybrid BM25 + dense)", ours["passages"], f(ours["seconds"], 1),
                     f(ours["articles_per_s"], 2), f(ours["passages_per_s"], 1), f(ours.get("cpu_s"), 1),
                     f(ours.get("passages_per_cpu_s"), 1), f(ours.get("recall_at_4"))],
                    ["baseline (1000/200 char splitter, HuggingFaceEmbeddings, langchain Chroma, top-4 dense)",
                     base["passages"], f(base["seconds"], 1), f(base["articles_per_s"], 2), f(base["passages_per_s"], 1),
                     f(base.get("cpu_s"), 1), f(base.get("passages_per_cpu_s"), 1), f(base.get("recall_at_4"))],
                    ["ratio ours / baseline", "", "", f(ing["ratio_articles_per_s"], 2), f(ing["ratio_passages_per_s"], 2),
                     "", f(ing.get("ratio_passages_per_cpu_s"), 2), ""],
                ]), "",
                *([f"Our recall@4 with each question asked as of today rather than its own date: "
                   f"{f(ours['recall_at_4_undated'])}.", ""] if ours.get("recall_at_4_undated") is not None else []),
                f"Gold answer present somewhere in these {ing['articles']} articles for {f(ing.get('gold_in_corpus'))} of the "
                "questions (the recall ceiling). CPU seconds (all threads of the bench process) are steadier than wall "
                "seconds when other work shares the cores.", ""]
        if ing.get("baseline_answer"):
            ba = ing["baseline_answer"]
            out += [f"Baseline 'answer' (its top passage): contains the gold for {f(ba['accuracy'])} of the questions "
                    f"(passages average {ba['mean_words']:.0f} words, so they would fail the 60-word rule); "
                    f"ours: answer accuracy {f(ing['ours'].get('answer_accuracy'))}, short-answer F1 {f(ing['ours'].get('f1'))} on the same questions.", ""]
        stages = ing["ours"].get("stages")
        if stages:
            total = sum(stages.values()) or 1
            out += ["Where our ingest time goes (seconds, share of the measured stages):", "",
                    table(["stage", "seconds", "share"], [[k, f(v, 1), f"{100 * v / total:.0f}%"] for k, v in stages.items()]), ""]
        prec = ing.get("precision")
        if prec:
            out += [f"Embedding precision (setting `embedding_precision`, default auto: bfloat16 for batches where the CPU "
                    f"computes it natively; this CPU: {'yes' if prec['native_bf16'] else 'no'}). The same "
                    f"{prec['passages']} passages embedded both ways:", "",
                    table(["precision", "passages/s"], [["float32", f(prec["float32_passages_per_s"], 1)],
                                                       ["bfloat16", f(prec["bfloat16_passages_per_s"], 1)]]), "",
                    f"Cosine between each passage's float32 and bfloat16 vectors: mean {prec['cosine_mean']:.5f}, "
                    f"min {prec['cosine_min']:.5f}.", ""]
        if ing.get("profile_top"):
            out += ["cProfile of a small ingest (top functions by cumulative time):", "", "```", ing["profile_top"].rstrip(), "```", ""]

    scale = result.get("scale") or []
    if scale:
        out += [f"{heading}# Warm query latency by index size (one client)", ""]
        out += [table(["passages", "how built", "ask p50 ms", "ask p95 ms", "retrieve p50", "retrieve p95", "embed p50", "answer p50",
                       "baseline top-4 p50", "baseline p95"],
                      [[r["passages"], r["how"], ms(r["ask"]["p50"]), ms(r["ask"]["p95"]), ms(r["retrieve"]["p50"]), ms(r["retrieve"]["p95"]),
                        ms(r["embed"]["p50"]), ms(r["answer"]["p50"]),
                        ms((r.get("baseline") or {}).get("p50")), ms((r.get("baseline") or {}).get("p95"))] for r in scale]), "",
                "(retrieve includes embedding the question, which runs beside lexical search.)", ""]

    served = result.get("served")
    if served:
        out += [f"{heading}# Served: {served.get('clients', '?')} concurrent clients on loopback", ""]
        if served.get("skipped"):
            out += [f"Skipped: {served['skipped']}", ""]
        else:
            out += [table(["endpoint", "duration s", "answers", "errors", "answers/s", "p50 ms", "p95 ms", "server peak RSS MiB (with answer workers)",
                           "server start → ready s"],
                          [[served["endpoint"], f(served["duration_s"], 1), served["answers"], served["errors"],
                            f(served["answers_per_s"], 1), ms(served["p50_ms"]), ms(served["p95_ms"]),
                            f(served.get("server_peak_rss_mib"), 0), f(served.get("server_ready_s"), 1)]]), "",
                    f"(`python app.py serve` on an index of {served.get('index_passages', '?')} passages"
                    + (f", answering in {served['answer_workers']} worker process(es) (setting `answer_workers`)"
                       if served.get("answer_workers") is not None else "")
                    + "; each client posts the next RealTime QA question as soon as it has its answer"
                    + ("; answered by: " + ", ".join(f"{mode} {n}" for mode, n in served["modes"].items()) if served.get("modes") else "")
                    + ".)", ""]

    cold = result.get("cold_start")
    if cold:
        out += [f"{heading}# Cold start to first answer", ""]
        if cold.get("skipped"):
            out += [f"Skipped: {cold['skipped']}", ""]
        else:
            out += [f"`{cold['command']}`: {f(cold['seconds'], 1)} s to the first answer (exit code {cold['returncode']}; "
                    f"index of {cold.get('passages', '?')} passages).", ""]

    mem = result.get("memory")
    if mem:
        out += [f"Peak memory of the bench process (ru_maxrss): {f(mem['bench_peak_rss_mib'], 0)} MiB.", ""]

    verdicts = result.get("targets") or []
    if verdicts:
        out += [f"{heading}# Targets", "", table(["target", "measured", "result"],
                                                  [[t["target"], t["measured"], {True: "PASS", False: "FAIL", None: "not measured"}[t["passed"]]]
                                                   for t in verdicts]), ""]
    return "\n".join(out)


# --- BENCHMARKS.md ------------------------------------------------------------------------------

def pick_eval(out_dir: Path, name: str) -> dict | None:
    """The full run when there is one, else the partial run (--limit / --small-corpus) with the most questions."""
    full = read_json(out_dir / f"eval_{name}.json")
    if full:
        return full
    partial = [r for path in sorted(out_dir.glob(f"eval_{name}_*.json")) if not path.name.endswith(".partial.json")
               and (r := read_json(path)) and r.get("dataset") == name]
    return max(partial, key=lambda r: r["scores"]["n"], default=None)


def build(out_dir: Path) -> str:
    evals = {name: r for name in EVAL_ORDER if (r := pick_eval(out_dir, name))}
    perf = read_json(out_dir / "perf.json") or read_json(out_dir / "perf_quick.json")
    machine = next((r["machine"] for r in [*evals.values(), perf] if r), None)
    lines = ["# Benchmarks", "",
             "_Generated by `python -m bench.report` from the JSON files in `bench/out/`; do not edit by hand: "
             "re-run the commands below and regenerate._", ""]
    if machine:
        lines += ["## Machine", "", table(["", ""], [
            ["CPU", f"{machine['cpu']} ({machine['nproc']} cores visible, `nproc`)"],
            ["CPU flags", " ".join(machine.get("cpu_flags") or []) + (f" (persona: {machine['cpu_persona']}, "
                          "bench/avx2/README.md)" if machine.get("cpu_persona") else "")],
            ["RAM", f"{machine['ram_gib']} GiB"],
            ["Python / torch", f"{machine['python']} / {machine['torch']}"],
            ["sentence-transformers / chromadb / langchain-core / spaCy",
             f"{machine['sentence_transformers']} / {machine['chromadb']} / {machine['langchain_core']} / {machine['spacy']}"],
            ["platform", machine["platform"]],
        ]), "", "Each section says when it ran and the load average around it: these cores are shared, so latency "
                "numbers taken under load are pessimistic.", ""]
    lines += ["## How to reproduce", "", "```",
              "scripts/setup.sh requirements-bench.txt   # with requirements-bench-nodeps.txt, without its dependencies"]
    lines += [command(r) for r in evals.values()]
    if perf:
        lines.append(command(perf))
    lines += ["python -m bench.report", "```", "",
              "Datasets are read in place from `../shared/eval` (override with `NEWSQA_EVAL_DIR`); see its README for "
              "their origin and official scoring. Every run ingests into a fresh temporary index, unless `--index-dir` "
              "keeps one between runs (each section says when an index was reused).", ""]
    if evals:
        lines += ["## Answer quality", "",
                  "Summary (full tables below):", "",
                  table(["dataset", "n", f"recall@k", "answer accuracy", "short EM", "short F1", "abstention P / R",
                         "wrong abstentions", "citation precision", "citation validity", "ask p50 / p95 ms"],
                        [[name, r["scores"]["n"],
                          f(r["scores"]["hits_at_k"]) + " (facts)" if "hits_at_k" in r["scores"] else f(r["scores"]["recall_at_k"]),
                          f(r["scores"]["answer_accuracy"]),
                          f(r["scores"]["em"]), f(r["scores"]["f1"]),
                          f"{f(r['scores']['abstention_precision'])} / {f(r['scores']['abstention_recall'])}",
                          f(r["scores"]["wrong_abstention_rate"]), f(r["scores"]["citation_precision"]),
                          f(r["scores"]["citation_validity"]),
                          f"{ms(r['scores']['latency_ms'].get('total_ms', {}).get('p50'))} / "
                          f"{ms(r['scores']['latency_ms'].get('total_ms', {}).get('p95'))}"]
                         for name, r in evals.items()]), "",
                  "recall@k: a retrieved passage contains the gold answer; for multihop, whose golds are mostly Yes/No, it is "
                  "evidence Hits@k (a gold fact is in a retrieved passage). Abstention P / R is on unanswerable questions "
                  "(SQuAD 2.0 impossible, MultiHop null queries).", ""]
        for name, r in evals.items():
            lines += [render_eval(r), weak_spots(r)]
    chosen = {r["command"] for r in evals.values()}
    others = [r for path in sorted(out_dir.glob("eval_*.json")) if not path.name.endswith(".partial.json")
              and (r := read_json(path)) and "scores" in r and r["command"] not in chosen]
    if others:
        lines += ["### Other runs (variants and partial runs in bench/out/)", "",
                  table(["command", "n", "recall@k", "answer accuracy", "short EM", "short F1", "abstained"],
                        [[f"`{command(r)}`", r["scores"]["n"], f(r["scores"]["recall_at_k"]), f(r["scores"]["answer_accuracy"]),
                          f(r["scores"]["em"]), f(r["scores"]["f1"]), f(r["scores"]["abstention_rate"])] for r in others]), ""]
    fusion = read_json(out_dir / "fusion.json") if (out_dir / "fusion.json").exists() else None
    if fusion:
        lines += [render_fusion(fusion), ""]
    missing = [n for n in EVAL_ORDER if n not in evals]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)} (`python -m bench.eval NAME`).", ""]
    if perf:
        perf = {**perf, "targets": targets(perf, evals.get("realtimeqa") or {}, out_dir)}  # today's eval results, not the perf run's
        lines += ["## Performance", "", render_perf(perf, heading="###")]
    else:
        lines += ["## Performance", "", "Not run yet: `python -m bench.perf`.", ""]
    if EARLIER_RUNS.exists():  # sections whose commands were not re-run, kept to compare against
        kept = re.sub(r"<!--.*?-->", "", EARLIER_RUNS.read_text(), flags=re.S).strip()
        lines += ["## Earlier runs (not regenerated)", "", kept, ""]
    return "\n".join(lines).rstrip() + "\n"


def _cap(max_terms: int) -> str:
    if not max_terms:
        return "every word"
    return "no cap, common words dropped" if max_terms >= 50 else str(max_terms)


def render_fusion(fusion: dict) -> str:
    k = fusion["k"]
    rows = [[f(row["lexical_weight"], 2), _cap(row.get("lexical_max_terms", 0)), f(row[f"recall@{k}"]),
             ms(row.get("lexical_ms")), ms(row["ms_per_query"])] for row in fusion["rows"]]
    return "\n".join([
        "### Retrieval choices: fusion weight and lexical term cap (RealTime QA)", "",
        f"`{command(fusion, 'python -m bench.fusion --index-dir bench/out/index/realtimeqa --k 4')}` — "
        f"{fusion['questions']} questions over the pooled index of {fusion['passages']} passages; a question counts "
        f"when one of the top {k} passages contains its gold answer. The term cap applies to collections of "
        "10,000 passages or more (setting `lexical_max_terms`).", "",
        table(["lexical weight", "lexical max terms", f"recall@{k}", "lexical search ms/question", "retrieval ms/question"], rows),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate BENCHMARKS.md from bench/out/*.json.")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    text = build(args.out_dir)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
