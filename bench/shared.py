"""The shared mode against the embedded default, on one machine: warm query latency, served answers/s,
disk, memory and build rate at ~20k and ~200k passages (or the sizes `--scales` names).

    python -m bench.shared [--quick] [--scales 20000,200000] [--clients 8,32] [--seconds 15]
                           [--articles 150] [--questions 40] [--copy-shared] [--skip-served]
                           [--out-dir bench/out]

Three configurations answer from the same content:
- `embedded`: the default, a SQLite catalog and Chroma inside one `app.py serve` process;
- `shared-1`: a PostgreSQL catalog and a `chroma run` server, one `app.py serve` replica;
- `shared-2`: the same stores, two replicas on two ports; the load generator's clients alternate
  between them (client n posts to replica n mod 2), as a proxy without stickiness would.

The script starts its own PostgreSQL (Debian's package, `initdb` in a temporary folder, fsync off:
`tests.support.PostgresServer`) and its own `chroma run` (`tests.support.ChromaServer`) on loopback,
beside the replicas and the load generator: everything shares this machine's cores, which a real
deployment would not.

Content: the first `--articles` RealTime QA articles, embedded once with the real model and written
into both backends with the same vectors, then padded as bench/perf.py pads (`pad_ours`: copies with
reused vectors, no embedding cost), identically into both; or, with `--copy-shared`, padded into the
embedded index only and then copied into the shared stores: the catalog's rows into PostgreSQL by
`copy_catalog` (what `app.py copy-catalog` runs) and Chroma's folder, as files, under a restarted
`chroma run`, which reads the same format (half the time at 20k; 2M passages padded twice would take
about 2.5 h). Answers are extractive
(`answer_mode=extractive`) everywhere. Writes bench/out/shared.json (shared_quick.json with --quick)
and prints the tables.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import datasets as ds
from bench import environment
from bench.lib import OUT, write_json
from bench.perf import (ReusedVectors, _peak_rss_mib, _served_answer_workers, ask_many, free_port, hammer, open_ours,
                        pad_ours, select)
from bench.report import command, f, ms, table

CONFIGS = {
    "embedded": "SQLite catalog + embedded Chroma, 1 process",
    "shared-1": "PostgreSQL + Chroma server, 1 replica",
    "shared-2": "PostgreSQL + Chroma server, 2 replicas",
}
BACKENDS = {"embedded": "SQLite + embedded Chroma", "shared": "PostgreSQL + Chroma server"}
# what a replica must not inherit from the caller's shell: the stores and the address are the bench's to set
SERVER_KEYS = ("NEWSQA_DATABASE_URL", "NEWSQA_CHROMA_HOST", "NEWSQA_CHROMA_PORT", "NEWSQA_HOST", "NEWSQA_PORT",
               "NEWSQA_DATA_DIR")


def log(message: str) -> None:
    print(f"[shared {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mib_on_disk(*paths: Path) -> float:
    """Space the files take on disk (allocated blocks, not apparent size), for files and folders."""
    total = 0
    for path in paths:
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file()) if path.exists() else []
        total += sum(p.stat().st_blocks * 512 for p in files)
    return total / 2**20


def postgres_mib(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20


def server_env(shared: dict | None) -> dict:
    """A replica's environment: offline, no keys, extractive answers, and the shared stores or none."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_KEYS}
    env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NEWSQA_API_KEYS": "[]",
            "NEWSQA_ANSWER_MODE": "extractive"}
    if shared:
        env |= {"NEWSQA_DATABASE_URL": shared["database_url"], "NEWSQA_CHROMA_HOST": shared["chroma_host"],
                "NEWSQA_CHROMA_PORT": str(shared["chroma_port"])}
    return env


def start_replica(data_dir: Path, env: dict, logs: Path) -> tuple[subprocess.Popen, str, float]:
    """`python app.py serve` on a free loopback port, once it answers /api/health: (process, URL, seconds)."""
    from tests.support import start_serve

    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # a large embedded index takes a while to open: allow minutes, not the tests' four
    server = start_serve(data_dir, port, env, logs / f"serve-{port}.log", timeout=900.0)
    return server, f"http://127.0.0.1:{port}", time.perf_counter() - started


def stop_replica(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    server.log.close()


def load(config: str, bases: list[str], questions: list[dict], clients: list[int], seconds: float) -> list[dict]:
    rows = []
    for count in clients:
        log(f"  {config}: {count} clients for {seconds:.0f} s")
        rows.append({"config": config, "replicas": len(bases), "loadavg_before": environment.loadavg(),
                     **hammer(bases, questions, count, seconds)})
        log(f"    {rows[-1]['answers_per_s']:.1f} answers/s, p95 {ms(rows[-1]['p95_ms'])} ms, {rows[-1]['errors']} errors")
    return rows


def latency(settings, index, questions: list[dict]) -> dict:
    from assistant.engine import AnswerEngine

    engine = AnswerEngine.from_settings(settings, index=index)
    try:
        timings, _ = ask_many(engine, questions)
        return timings
    finally:
        engine.close()


def measure_served(row: dict, work: Path, shared: dict, questions: list[dict], clients: list[int], seconds: float) -> None:
    """The served runs of one size, into `row`: the embedded server alone, then one replica, then two."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    row["served"], row["memory"], row["ready_s"] = [], {}, {}
    log("served: embedded")
    server, base, row["ready_s"]["embedded server"] = start_replica(work / "embedded", server_env(None), logs)
    try:
        row["served"] += load("embedded", [base], questions, clients, seconds)
        row["memory"]["embedded server (+ answer worker)"] = _peak_rss_mib(server.pid)
    finally:
        stop_replica(server)
    log("served: shared, 1 replica, then 2")
    replicas = []
    try:
        for n in (1, 2):
            replicas.append(start_replica(work / f"replica-{n}", server_env(shared), logs))
            row["ready_s"][f"replica {n}"] = replicas[-1][2]
            row["served"] += load(f"shared-{n}", [b for _, b, _ in replicas], questions, clients, seconds)
        for n, (process, _, _) in enumerate(replicas, 1):
            row["memory"][f"replica {n} (+ answer worker)"] = _peak_rss_mib(process.pid)
    finally:
        for process, _, _ in replicas:
            stop_replica(process)


def analyze(url: str) -> None:
    """Fresh planner statistics after a bulk write, as autovacuum's analyze would give within a minute or
    so; without them the lexical query right after padding took 2x as long (200 against 121 ms at 20k)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def copy_shared(embedded: Path, chroma, shared_index) -> dict:
    """Make the shared stores hold what the (closed) embedded index in `embedded` holds: its catalog's
    documents into PostgreSQL (those already there at the same version are skipped), and its Chroma
    folder as the `chroma run` server's, which reads the same on-disk format (the server is stopped
    for the copy and restarted on its port; the shared index's handle reconnects by itself)."""
    from index.catalog import SQLITE_NAME, SQLiteCatalog
    from index.catalog.copy import copy_catalog

    before = shared_index.catalog.count()[1]
    log(f"copying the embedded catalog into PostgreSQL ({before} passages there)")
    started = time.perf_counter()
    source = SQLiteCatalog(embedded / SQLITE_NAME)
    total, shown = source.count()[0], [0]

    def progress(documents: int) -> None:
        if documents - shown[0] >= max(total // 20, 1000):
            shown[0] = documents
            log(f"  {documents} of {total} documents, {time.perf_counter() - started:.0f} s")

    try:
        copied = copy_catalog(source, shared_index.catalog, progress=progress)
    finally:
        source.close()
    catalog_s = time.perf_counter() - started
    log(f"  copied {copied['copied']} documents ({copied['passages']} passages) in {catalog_s:.0f} s; now Chroma's folder")
    chroma.stop(graceful=True)
    shutil.rmtree(chroma.folder / "db")
    shutil.copytree(embedded / "chroma", chroma.folder / "db")
    chroma.start()
    passages = shared_index.catalog.count()[1]
    if shared_index.vectors.count() != passages:  # the server did not take the folder as written
        raise RuntimeError(f"chroma run holds {shared_index.vectors.count()} vectors, the catalog {passages} passages")
    seconds = time.perf_counter() - started
    return {"passages": passages, "added": passages - before, "seconds": seconds, "catalog_s": catalog_s,
            "passages_per_s": (passages - before) / seconds if passages > before else None, "copied": True}


def run(args) -> dict:
    environment.offline_env()
    from index.chunker import chunk_article
    from tests.support import ChromaServer, PostgresServer

    where = {"cpu": environment.machine()["cpu"], "flags": environment.cpu_flags(), "loadavg": environment.loadavg()}
    result: dict = {"command": environment.command_line(), "machine": environment.machine(), "where": where,
                    "loadavg_start": environment.loadavg(), "configs": CONFIGS, "scales": [],
                    "copy_shared": args.copy_shared}
    work = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        articles, questions = select(ds.load_realtimeqa(), args.articles)
        answerable = [q for q in questions if q["answerable"]]
        asked = list(itertools.islice(itertools.cycle(answerable), args.questions))

        log("starting PostgreSQL and chroma run")
        postgres = stack.enter_context(PostgresServer())
        chroma = stack.enter_context(ChromaServer(work / "chroma-server"))
        shared = {"database_url": postgres.database(), "chroma_host": chroma.host, "chroma_port": chroma.port}
        overrides = {"answer_mode": "extractive", "database_url": None, "chroma_host": None}
        settings, index = open_ours(work / "embedded", **overrides)
        model = index.embeddings
        model.encode(["warm up"])
        shared_settings, shared_index = open_ours(work / "shared", model, **(overrides | shared))
        stack.callback(shared_index.close)

        log(f"embedding {len(articles)} real articles once, for both backends")
        items = [(a, chunk_article(a, **index.chunking)) for a in articles]
        started = time.perf_counter()
        vectors = model.encode([index.embedding_text(a.title, p) for a, ps in items for p in ps])
        result["real"] = {"articles": len(articles), "passages": len(vectors), "embed_s": time.perf_counter() - started,
                          "questions": len(answerable), "asked": len(asked)}
        for one in (index, shared_index):
            one.add_passages(items, vectors)
        copies = {"embedded": 1, "shared": 1}

        for target in args.scales:
            if index is None:
                settings, index = open_ours(work / "embedded", model, **overrides)
            row: dict = {"target": target, "loadavg_start": environment.loadavg(), "build": {}, "latency": {}}

            def pad(name: str, one) -> None:
                before = one.catalog.count()[1]
                log(f"padding {name} from {before} to ~{target} passages")
                every = max(target // 20, 8000)  # about twenty progress lines per size
                marks = iter(range(before + every, target + every, every))
                mark = [next(marks)]

                def progress(done: int, seconds: float) -> None:
                    if done >= mark[0]:
                        log(f"  {name}: {done} passages, {(done - before) / seconds:.0f}/s")
                        mark[0] = next(marks, target + every)

                passages, copies[name], seconds = pad_ours(one, articles, target, ReusedVectors(vectors), copies[name],
                                                           progress)
                added = passages - before
                row["build"][name] = {"passages": passages, "added": added, "seconds": seconds,
                                      "passages_per_s": added / seconds if added else None}
                log(f"  {name}: {passages} passages (+{added} in {seconds:.0f} s)")

            pad("embedded", index)
            if args.copy_shared:
                index.close()  # its files are copied while closed
                row["build"]["shared"] = copy_shared(work / "embedded", chroma, shared_index)
                settings, index = open_ours(work / "embedded", model, **overrides)
            else:
                pad("shared", shared_index)
            analyze(shared["database_url"])
            row["passages"] = row["build"]["embedded"]["passages"]
            for name, one, its in (("embedded", index, settings), ("shared", shared_index, shared_settings)):
                log(f"warm ask, {name}: {len(asked)} questions")
                row["latency"][name] = latency(its, one, asked)
                log(f"  p50 {ms(row['latency'][name]['ask']['p50'])} ms, p95 {ms(row['latency'][name]['ask']['p95'])} ms")
            index.close()  # the embedded server must own its data directory
            index = None

            if args.skip_served:
                row["served"], row["memory"], row["ready_s"] = [], {}, {}
            else:
                measure_served(row, work, shared, answerable, args.clients, args.seconds)
            row["memory"]["chroma run"] = _peak_rss_mib(chroma.process.pid)
            row["memory"]["PostgreSQL (postmaster + backends)"] = _peak_rss_mib(postgres.process.pid)
            row["sizes"] = {"sqlite_catalog_mib": mib_on_disk(*(work / "embedded").glob("catalog.sqlite3*")),
                            "embedded_chroma_mib": mib_on_disk(work / "embedded" / "chroma"),
                            "postgres_mib": postgres_mib(shared["database_url"]),
                            "chroma_server_mib": mib_on_disk(chroma.folder / "db")}
            row["loadavg_end"] = environment.loadavg()
            result["scales"].append(row)
    result["answer_workers"] = _served_answer_workers()
    result["loadavg_end"] = environment.loadavg()
    # others may edit the checkout during a run, and each replica starts from the files as they are then
    result["code_end"] = environment.code_fingerprint()
    return result


def render(result: dict, heading: str = "##") -> str:
    w, m = result["where"], result["machine"]
    real = result["real"]
    out = [f"{heading} Shared mode: PostgreSQL catalog, Chroma server, replicas", "", f"`{command(result)}`", "",
           f"- CPU: {w['cpu']}, {m['nproc']} cores visible, {m['ram_gib']} GiB RAM; SIMD flags: {' '.join(w['flags']) or 'none'}"
           + "".join(f"; not {flag}" for flag in environment.SIMD_FLAGS if flag not in w["flags"]) + ".",
           f"- Started {m['date']}, load average {result['loadavg_start']} → {result['loadavg_end']} at the end "
           f"(each size's own below); engine code `{m.get('code', '?')}`"
           + (f", `{result['code_end']}` at the end: THE CODE CHANGED DURING THE RUN." if result.get("code_end", m.get("code"))
              != m.get("code") else "."),
           f"- Content: the first {real['articles']} RealTime QA articles ({real['passages']} passages, embedded once in "
           f"{real['embed_s']:.0f} s, the same vectors written into both backends), padded with copies whose vectors are "
           "reused real vectors plus noise (bench/perf.py `pad_ours`), identically into both.",
           f"- Latency: {real['asked']} asks of {real['questions']} RealTime QA questions (cycled) after a warm-up, one "
           "client, through the engine in the bench process, `answer_mode=extractive`.",
           "- Served: POST /api/ask on loopback, each client posting the next question as soon as it has its answer; "
           f"each replica answers in {result.get('answer_workers', '?')} answer worker process(es) (`answer_workers` "
           "unset: one per core beyond the first). PostgreSQL (fsync off, shared_buffers 64MB), `chroma run`, the "
           "replicas and the load generator all share these cores. PostgreSQL's statistics are refreshed (`ANALYZE`) "
           "after each size's writes, as its autovacuum would be soon after.", ""]
    scales = result["scales"]
    out += [f"{heading}# Warm ask latency, one client (ms)", "",
            table(["passages", "backend", "ask p50", "ask p95", "retrieve p50", "retrieve p95", "answer p50"],
                  [[s["passages"], BACKENDS[name], ms(t["ask"]["p50"]), ms(t["ask"]["p95"]), ms(t["retrieve"]["p50"]),
                    ms(t["retrieve"]["p95"]), ms(t["answer"]["p50"])]
                   for s in scales for name, t in s["latency"].items()]), ""]
    out += [f"{heading}# Served over HTTP", "",
            table(["passages", "configuration", "clients", "seconds", "answers", "errors", "answers/s", "p50 ms", "p95 ms",
                   "load average before"],
                  [[s["passages"], CONFIGS[r["config"]], r["clients"], f(r["duration_s"], 1), r["answers"], r["errors"],
                    f(r["answers_per_s"], 1), ms(r["p50_ms"]), ms(r["p95_ms"]), f(r["loadavg_before"][0], 2)]
                   for s in scales for r in s["served"]]), ""]
    out += [f"{heading}# Disk and build rate", "",
            table(["passages", "backend", "catalog MiB", "vectors MiB", "padding passages", "padding s", "passages/s"],
                  [[s["passages"], BACKENDS[name],
                    f(s["sizes"]["sqlite_catalog_mib" if name == "embedded" else "postgres_mib"], 0),
                    f(s["sizes"]["embedded_chroma_mib" if name == "embedded" else "chroma_server_mib"], 0),
                    b["added"], f(b["seconds"], 1), f(b["passages_per_s"], 0)]
                   for s in scales for name, b in s["build"].items()]), "",
            "(catalog: the SQLite files, or `pg_database_size`, which leaves out PostgreSQL's WAL; vectors: Chroma's "
            "folder, allocated blocks. Padding rate: copies chunked and written with reused vectors, no embedding"
            + ("; the shared stores were filled by copying the embedded ones (`--copy-shared`): PostgreSQL by "
               "`copy_catalog`, as `app.py copy-catalog` does, and Chroma's folder copied as files for `chroma run`, "
               "so the shared row's seconds are that copy's.)" if result.get("copy_shared") else ".)"), ""]
    processes = list(dict.fromkeys(k for s in scales for k in s["memory"]))
    out += [f"{heading}# Peak memory (RSS MiB, VmHWM) and start-up", "",
            table(["process", *[str(s["passages"]) for s in scales]],
                  [[p, *[f(s["memory"].get(p), 0) for s in scales]] for p in processes]
                  + [[f"start → ready s, {k}", *[f(s["ready_s"].get(k), 1) for s in scales]]
                     for k in dict.fromkeys(k for s in scales for k in s["ready_s"])]), "",
            "(Peaks since each process started: replica 1's covers its runs alone and beside replica 2; `chroma run` "
            "and PostgreSQL run for the whole bench, so theirs include the padding. PostgreSQL's sums the postmaster "
            "and the backends alive at that moment, counting shared buffers once per backend.)", ""]
    out += ["Load average per size: " + "; ".join(f"{s['passages']}: {s['loadavg_start']} → {s['loadavg_end']}"
                                                    for s in scales) + ".", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run for the smoke test (about a minute)")
    parser.add_argument("--scales", help="comma-separated passage counts to pad to (default 20000,200000; quick 600)")
    parser.add_argument("--clients", help="comma-separated concurrent clients per served run (default 8,32; quick 8)")
    parser.add_argument("--seconds", type=float, help="length of each served run (default 15; quick 2)")
    parser.add_argument("--articles", type=int, help="RealTime QA articles embedded for real (default 150; quick 12)")
    parser.add_argument("--questions", type=int, help="asks per backend and size for latency (default 40; quick 5)")
    parser.add_argument("--copy-shared", action="store_true",
                        help="fill the shared stores by copying the padded embedded ones (catalog rows into "
                             "PostgreSQL, Chroma's folder as files) instead of padding them again: for large sizes")
    parser.add_argument("--skip-served", action="store_true",
                        help="no served runs (no `app.py serve` replicas): builds and one-client latency only")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.scales = [int(s) for s in (args.scales or ("600" if args.quick else "20000,200000")).split(",") if s]
    args.clients = [int(c) for c in (args.clients or ("8" if args.quick else "8,32")).split(",") if c]
    args.seconds = args.seconds or (2.0 if args.quick else 15.0)
    args.articles = args.articles or (12 if args.quick else 150)
    args.questions = args.questions or (5 if args.quick else 40)

    result = run(args)
    path = write_json(args.out_dir / ("shared_quick.json" if args.quick else "shared.json"), result)
    print(render(result))
    print(f"\n(results: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
