"""Retrieval alone on RealTime QA: recall@k of the news-time preference and the retrieval knobs.

    python -m bench.retrieval --index-dir /tmp/rtqa_index [--only NAME ...] [--database-url URL]

Uses an index built by `python -m bench.eval realtimeqa --index-dir DIR` (it ingests if empty): all
1,881 articles of the ten weeks pooled, 294 questions. Each question is embedded once and searched
under every variant with the question's own date as `as_of` (the variant "as before" gives none),
so no answering runs. A question counts when one of the top k passages contains a normalised gold
answer, the rule of `bench/eval.py` (`contains_any`). Writes bench/out/retrieval.json, or with
`--database-url` (the same index's catalog copied into PostgreSQL by `app.py copy-catalog`, its
vectors still in the folder) bench/out/retrieval-postgresql.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

from assistant.retriever import HybridRetriever, asks_about_recent_news
from bench import environment
from bench.datasets import load
from bench.lib import OUT, mean, write_json
from bench.metrics import contains_any
from core.settings import Settings
from index.store import ArticleIndex, Filters

OFF = {"recency": "off", "recency_tiebreak": 0.0}
TIEBREAK = {"recency": "boost", "recency_boost": 0.0, "recency_pool": False}
BOOST = {"recency": "boost", "recency_tiebreak": 0.0, "recency_pool": False}
# name -> (give each question its date as as_of, retriever fields over the engine's settings)
VARIANTS: dict[str, tuple[bool, dict]] = {
    "as before (no date, no time preference)": (False, OFF),
    "tie-break only": (True, TIEBREAK),
    "boost only (unfiltered candidates)": (True, BOOST),
    "boost + recent-window candidates": (True, {**BOOST, "recency_pool": True}),
    "hard window, fallback to the rest": (True, {"recency": "window", "recency_tiebreak": 0.0}),
    "hard window + tie-break": (True, {"recency": "window"}),
    "boost + window candidates + tie-break (default)": (True, {}),
    "default, boost 0.1": (True, {"recency_boost": 0.1}),
    "default, boost 0.2": (True, {"recency_boost": 0.2}),
    "default, boost 0.5": (True, {"recency_boost": 0.5}),
    "default, boost 1.0": (True, {"recency_boost": 1.0}),
    "default, recent dense hits from the top 40 (depth 2)": (True, {"recency_depth": 2}),
    "default, recent dense hits from the top 400 (depth 20)": (True, {"recency_depth": 20}),
    "default, window 7 days": (True, {"recency_window_days": 7}),
    "default, window 14 days": (True, {"recency_window_days": 14}),
    "default, tie-break 0.05": (True, {"recency_tiebreak": 0.05}),
    "default, fetch_k 40": (True, {"fetch_k": 40}),
    "default, lexical_weight 0.3": (True, {"lexical_weight": 0.3}),
    "default, lexical_weight 0.7": (True, {"lexical_weight": 0.7}),
    "default, every question word (lexical_max_terms 0)": (True, {"lexical_max_terms": 0}),
    "default, weekdays not time words": (True, {"wants_recent": partial(asks_about_recent_news, weekdays=False)}),
    "default, every question as if it said 'this week'": (True, {"wants_recent": lambda question: True}),
    "as before, fetch_k 40": (False, {**OFF, "fetch_k": 40}),
    "as before, lexical_weight 0.3": (False, {**OFF, "lexical_weight": 0.3}),
    "as before, lexical_weight 0.7": (False, {**OFF, "lexical_weight": 0.7}),
}
KS = (1, 3, 5, 10)


def first_hit(passages, golds) -> int | None:
    """The 1-based rank of the first passage holding a gold answer (bench/eval.py's rule), or None."""
    return next((rank for rank, p in enumerate(passages, 1) if contains_any(p.text, golds)), None)


def measure(index: ArticleIndex, questions: list[dict], vectors, as_of: bool, fields: dict,
            base: dict, k: int = max(KS)) -> dict:
    """recall@1/3/5/10 over `questions` (for all, and for those whose wording asks for recent
    news), with the retrieval ms per question (the question already embedded)."""
    retriever = HybridRetriever(index=index, k=k, **{**base, **fields})
    ranks, started = [], time.perf_counter()
    for q, vector in zip(questions, vectors):
        filters = Filters(as_of=q["date"]) if as_of else None
        ranks.append(first_hit(retriever.search(q["question"], k=k, filters=filters, question_vector=vector), q["golds"]))
    ms = (time.perf_counter() - started) * 1000 / len(questions)
    recent = [r for r, q in zip(ranks, questions) if asks_about_recent_news(q["question"])]
    row = {f"recall@{n}": mean((r or 99) <= n for r in ranks) for n in KS}
    row.update({f"recall@5 (time words, n={len(recent)})": mean((r or 99) <= 5 for r in recent),
                "ms_per_question": ms})
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--only", nargs="*", help="variant names (substrings) to run; default all")
    parser.add_argument("--database-url", help="search the catalog in this PostgreSQL database (see the docstring)")
    parser.add_argument("--embedding-runtime", default="torch", help="embed the questions as the index was built (default torch)")
    args = parser.parse_args(argv)
    environment.offline_env()
    # the question vectors from the runtime that built the index (torch), where the setting exists
    runtime = {"embedding_runtime": args.embedding_runtime} if "embedding_runtime" in Settings.model_fields else {}
    settings = Settings(data_dir=args.index_dir, database_url=args.database_url, _env_file=None, **runtime)
    dataset = load("realtimeqa")
    index = ArticleIndex.from_settings(settings)
    if index.is_empty():
        from index.ingest import ingest
        ingest(index, dataset.articles, batch_size=settings.ingest_batch_size, progress=True)
    questions = [q for q in dataset.questions if q["answerable"]]
    vectors = index.embeddings.encode([q["question"] for q in questions])
    base = {"fetch_k": settings.fetch_k, "lexical_weight": settings.lexical_weight,
            "lexical_max_terms": settings.lexical_max_terms}
    load_start = environment.loadavg()
    rows = []
    for name, (as_of, fields) in VARIANTS.items():
        if args.only and not any(part in name for part in args.only):
            continue
        row = {"variant": name, "as_of": as_of, "fields": {key: value for key, value in fields.items() if key != "wants_recent"},
               **measure(index, questions, vectors, as_of, fields, base)}
        rows.append(row)
        print(f"{name:<52} " + "  ".join(f"{key}={value:.3f}" for key, value in row.items() if key.startswith("recall"))
              + f"  {row['ms_per_question']:.0f} ms", flush=True)
    name = "retrieval-postgresql.json" if args.database_url else "retrieval.json"
    write_json(OUT / name, {
        "dataset": "realtimeqa", "command": environment.command_line(), "questions": len(questions),
        "catalog": index.catalog.backend,
        "time_word_questions": sum(asks_about_recent_news(q["question"]) for q in questions),
        "passages": index.catalog.count()[1], "base": base, "rows": rows,
        "loadavg_start": load_start, "loadavg_end": environment.loadavg(), "machine": environment.machine()})
    index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
