"""Sweep the dense/lexical fusion weight and the lexical term cap: retrieval recall@k on RealTime QA.

    python -m bench.fusion --index-dir bench/out/index/realtimeqa [--k 4]

First the fusion weight with every question word searched, then (at the default weight) the
`lexical_max_terms` cap, with the time the lexical search takes.

Uses an index already built by `python -m bench.eval realtimeqa --index-dir DIR` (it ingests if empty).
A question counts as recalled when one of the top-k passages contains a normalised gold answer.
Writes bench/out/fusion.json; `python -m bench.report` shows it.
"""

import argparse
import sys
import time
from pathlib import Path

from assistant.retriever import HybridRetriever
from bench import environment
from bench.datasets import load
from bench.lib import OUT, write_json
from bench.metrics import contains_any
from core.settings import Settings
from index.ingest import ingest
from index.store import ArticleIndex, Filters

WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
MAX_TERMS = (4, 6, 8, 10, 100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args(argv)
    dataset = load("realtimeqa")
    index = ArticleIndex.from_settings(Settings(data_dir=args.index_dir, _env_file=None))
    if index.is_empty():
        ingest(index, dataset.articles, progress=True)
    questions = [q for q in dataset.questions if q["golds"]]
    vectors = index.embeddings.encode([q["question"] for q in questions])
    default = Settings(_env_file=None).lexical_weight
    rows = []
    for weight, max_terms in [(w, 0) for w in WEIGHTS] + [(default, m) for m in MAX_TERMS]:
        retriever = HybridRetriever(index=index, k=args.k, lexical_weight=weight, lexical_max_terms=max_terms)
        started = time.perf_counter()
        hits = sum(  # each question asked as of its own date, as bench/eval.py asks it
            any(contains_any(p.text, q["golds"])
                for p in retriever.search(q["question"], filters=Filters(as_of=q.get("date")), question_vector=v))
            for q, v in zip(questions, vectors)
        )
        elapsed = time.perf_counter() - started
        mark = time.perf_counter()
        for q in questions:
            index.lexical_search(q["question"], retriever.fetch_k, max_terms=max_terms)
        lexical_ms = (time.perf_counter() - mark) * 1000 / len(questions)
        rows.append({"lexical_weight": weight, "lexical_max_terms": max_terms, f"recall@{args.k}": hits / len(questions),
                     "ms_per_query": elapsed * 1000 / len(questions), "lexical_ms": lexical_ms})
        print(f"lexical_weight={weight:.2f} max_terms={max_terms}  recall@{args.k}={hits / len(questions):.3f}  "
              f"lexical {lexical_ms:.1f} ms", flush=True)
    write_json(OUT / "fusion.json", {"dataset": "realtimeqa", "command": environment.command_line(), "questions": len(questions),
                                     "k": args.k, "passages": index.catalog.count()[1], "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
