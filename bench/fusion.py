"""Sweep the dense/lexical fusion weight and the lexical term cap: retrieval recall@k on RealTime QA.

    python bench/fusion.py --index-dir bench/out/index/realtimeqa [--k 4]

First the fusion weight with every question word searched, then (at the default weight) the
`lexical_max_terms` cap, with the time the lexical search takes.

Uses an index already built by `bench/eval.py realtimeqa --index-dir DIR` (it ingests if empty).
A question counts as recalled when one of the top-k passages contains a normalised gold answer.
Writes bench/out/fusion.json; bench/report.py shows it.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.retriever import HybridRetriever  # noqa: E402
from core.settings import Settings  # noqa: E402
from bench import environment  # noqa: E402
from bench.datasets import load  # noqa: E402
from bench.metrics import contains_any  # noqa: E402
from index.ingest import ingest  # noqa: E402
from index.store import ArticleIndex  # noqa: E402

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
        hits = sum(
            any(contains_any(d.page_content, q["golds"]) for d in retriever.search(q["question"], question_vector=v))
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
    out = ROOT / "bench" / "out" / "fusion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dataset": "realtimeqa", "command": environment.command_line(), "questions": len(questions), "k": args.k,
                               "passages": index.catalog.count()[1], "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
