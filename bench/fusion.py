"""Sweep the dense/lexical fusion weight: retrieval recall@k on RealTime QA for several weights.

    python bench/fusion.py --index-dir bench/out/index/realtimeqa [--k 4]

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
from assistant.settings import Settings  # noqa: E402
from bench.datasets import load  # noqa: E402
from bench.metrics import contains_any  # noqa: E402
from index.ingest import ingest  # noqa: E402
from index.store import ArticleIndex  # noqa: E402

WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)


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
    rows = []
    for weight in WEIGHTS:
        retriever = HybridRetriever(index=index, k=args.k, lexical_weight=weight)
        started = time.perf_counter()
        hits = sum(
            any(contains_any(d.page_content, q["golds"]) for d in retriever.search(q["question"], question_vector=v))
            for q, v in zip(questions, vectors)
        )
        rows.append({"lexical_weight": weight, f"recall@{args.k}": hits / len(questions),
                     "ms_per_query": (time.perf_counter() - started) * 1000 / len(questions)})
        print(f"lexical_weight={weight:.2f}  recall@{args.k}={hits / len(questions):.3f}", flush=True)
    out = ROOT / "bench" / "out" / "fusion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dataset": "realtimeqa", "questions": len(questions), "k": args.k,
                               "passages": index.catalog.count()[1], "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
