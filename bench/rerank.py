"""The reranker: its features measured, its weights fitted and its recall scored on three datasets.

    python -m bench.rerank --index realtimeqa=DIR --index multihop=DIR --index squad2=DIR [--fit]

Each DIR is an index built by `python -m bench.eval NAME --index-dir DIR` (ingested here if empty).
Every question is searched taking `--depth` candidates from each index (RealTime QA questions with
their own date as `as_of`), and every candidate's features (assistant/rerank.py) are recorded with a
label: does it hold the answer? For RealTime QA and SQuAD 2.0 (answerable questions) that is the
rule of bench/eval.py (the gold answer in the passage); for MultiHop-RAG, one of the question's gold
evidence facts in the passage (its answers are mostly Yes/No). Then recall@1/3/5/10 (a passage that
holds the answer among the first k) per dataset:
- "dense only": the embedding model's nearest passages, no lexical search (what the model alone finds);
- "fused (no reranker)": the retriever without the reranker, fetch_k 20;
- "reranker (shipped weights)": the retriever with the embedding model's weights (assistant/rerank_weights.json
  for the default model, rerank_weights-all-MiniLM-L6-v2.json for the six-layer one);
- "reranker, held out": weights fitted on four fifths of the questions of every dataset, scoring the
  other fifth's candidates (RealTime QA split by week), in the candidates' order, without the
  retriever's near-duplicate step;
- "best possible order": a candidate with the answer first, wherever there is one.
Each dataset weighs the same in the fit, whatever its number of candidates. `--fit` fits on all
questions and writes that file. `NEWSQA_EMBEDDING_MODEL` names the model the indexes were built with. Writes bench/out/rerank.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

from assistant.rerank import FEATURES, Candidate, Reranker, features, weights_path
from assistant.retriever import HybridRetriever
from bench import environment
from bench.datasets import load
from bench.lib import OUT, mean, write_json
from bench.metrics import contains_any, multihop_fact_in
from core.errors import ConfigError
from core.settings import Settings
from index.store import ArticleIndex, Filters

KS = (1, 3, 5, 10)
FOLDS = 5


class Recorder(Reranker):
    """Scores as the given weights do, and keeps every candidate's features."""

    def __init__(self, model: Reranker):
        super().__init__(model.bias, model.weights, model.provenance)
        object.__setattr__(self, "seen", [])

    def rank(self, question: str, candidates: dict[str, Candidate], as_of: date | None) -> dict[str, float]:
        rows = features(question, list(candidates.values()), as_of)
        self.seen.append((list(candidates.values()), rows))
        return dict(zip(candidates, self.scores(rows).tolist()))


def questions_of(name: str, dataset) -> list[dict]:
    """The questions a candidate can be right for, each with `holds(text)` and its fold."""
    if name == "multihop":
        chosen = [q for q in dataset.questions if q.get("evidence_facts")]
        holds = lambda q: (lambda text: any(multihop_fact_in(f, text) for f in q["evidence_facts"]))  # noqa: E731
    else:
        chosen = [q for q in dataset.questions if q["answerable"]]
        holds = lambda q: (lambda text: contains_any(text, q["golds"]))  # noqa: E731
    weeks = sorted({q.get("date", "")[:10] for q in chosen})
    for i, q in enumerate(chosen):
        q["holds"] = holds(q)
        q["fold"] = weeks.index(q["date"][:10]) % FOLDS if name == "realtimeqa" else i % FOLDS
    return chosen


def first_hit(flags) -> int | None:
    return next((rank for rank, flag in enumerate(flags, 1) if flag), None)


def recall(ranks: list[int | None]) -> dict[str, float]:
    return {f"recall@{n}": mean((r or 999) <= n for r in ranks) for n in KS}


def fit(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray, c: float = 1.0):
    from sklearn.linear_model import LogisticRegression  # bench-only dependency (requirements-bench.txt)
    return LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(rows, labels, sample_weight=weights)


def measure(name: str, folder: Path, shipped: Reranker, depth: int) -> dict:
    """Search every question of one dataset with and without the reranker, recording the candidates."""
    settings = Settings(data_dir=folder, _env_file=None)
    dataset = load(name)
    index = ArticleIndex.from_settings(settings)
    if index.is_empty():
        from index.ingest import ingest
        ingest(index, dataset.articles, batch_size=settings.ingest_batch_size, progress=True)
    questions = questions_of(name, dataset)
    vectors = index.embeddings.encode([q["question"] for q in questions])
    base = {"fetch_k": settings.fetch_k, "lexical_weight": settings.lexical_weight,
            "lexical_max_terms": settings.lexical_max_terms}
    plain = HybridRetriever(index=index, k=max(KS), **base)
    recorder = Recorder(shipped)
    reranked = HybridRetriever(index=index, k=max(KS), reranker=recorder, rerank_depth=depth, **base)
    plain_ranks, shipped_ranks, dense_ranks, pools = [], [], [], []
    for q, vector in zip(questions, vectors):
        filters = Filters(as_of=q["date"]) if name == "realtimeqa" else None
        ids = [pid for pid, _ in index.dense_search(vector, max(KS), filters)]
        rows = index.passages(ids)
        dense_ranks.append(first_hit(q["holds"](rows[pid]["text"]) for pid in ids if pid in rows))
        plain_ranks.append(first_hit(q["holds"](p.text) for p in plain.search(q["question"], filters=filters, question_vector=vector)))
        shipped_ranks.append(first_hit(q["holds"](p.text) for p in reranked.search(q["question"], filters=filters, question_vector=vector)))
        candidates, rows = recorder.seen[-1]
        pools.append((rows, np.asarray([q["holds"](c.text) for c in candidates], dtype=bool), q["fold"]))
    passages = index.catalog.count()[1]
    index.close()
    return {"questions": len(questions), "passages": passages, "pools": pools,
            "dense only": recall(dense_ranks), "fused (no reranker)": recall(plain_ranks), "reranker (shipped weights)": recall(shipped_ranks),
            "best possible order": recall([1 if labels.any() else None for _, labels, _ in pools])}


def stacked(runs: dict, keep) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels and sample weights of the chosen pools; each dataset weighs the same."""
    rows, labels, weights = [], [], []
    for run in runs.values():
        chosen = [pool for pool in run["pools"] if keep(pool)]
        count = sum(len(pool[1]) for pool in chosen) or 1
        for pool_rows, pool_labels, _ in chosen:
            rows.append(pool_rows)
            labels.append(pool_labels)
            weights.append(np.full(len(pool_labels), 1.0 / count))
    weights = np.concatenate(weights)
    return np.vstack(rows), np.concatenate(labels), weights * len(weights) / weights.sum()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", required=True, metavar="NAME=DIR",
                        help="a dataset (realtimeqa, multihop, squad2) and its index folder; repeat for each")
    parser.add_argument("--depth", type=int, default=60, help="candidates from each index (default 60)")
    parser.add_argument("--fit", action="store_true",
                        help="fit on every question and write the embedding model's weights (assistant/rerank_weights*.json)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength (default 1)")
    args = parser.parse_args(argv)
    environment.offline_env()
    path = weights_path(Settings(_env_file=None).embedding_model)  # NEWSQA_EMBEDDING_MODEL picks another model
    try:
        shipped = Reranker.load(path)
    except ConfigError:
        if not args.fit:
            raise
        shipped = Reranker(0.0, dict.fromkeys(FEATURES, 0.0), {})  # the features changed: refit from nothing
    load_start = environment.loadavg()
    runs = {}
    for item in args.index:
        name, _, folder = item.partition("=")
        runs[name] = measure(name, Path(folder), shipped, args.depth)

    for fold in range(FOLDS):
        model = fit(*stacked(runs, lambda pool: pool[2] != fold), args.c)
        for run in runs.values():
            run.setdefault("held", [None] * len(run["pools"]))
            for i, (rows, labels, pool_fold) in enumerate(run["pools"]):
                if pool_fold == fold:
                    order = np.argsort(-model.decision_function(rows), kind="stable")
                    run["held"][i] = first_hit(labels[j] for j in order)
    results = {}
    for name, run in runs.items():
        results[name] = {"questions": run["questions"], "passages": run["passages"], "dense only": run["dense only"],
                         "fused (no reranker)": run["fused (no reranker)"],
                         "reranker (shipped weights)": run["reranker (shipped weights)"],
                         "reranker, held out": recall(run["held"]),
                         f"best possible order of the {args.depth}+{args.depth} candidates": run["best possible order"]}
        for variant, row in results[name].items():
            if isinstance(row, dict):
                print(f"{name:<11} {variant:<46} " + "  ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)

    if args.fit:
        model = fit(*stacked(runs, lambda pool: True), args.c)
        path.write_text(json.dumps({
            "bias": round(float(model.intercept_[0]), 4),
            "weights": {name: round(float(w), 4) for name, w in zip(FEATURES, model.coef_[0])},
            "provenance": {
                "fitted": f"logistic regression (scikit-learn, C={args.c}, balanced classes, each dataset weighing the "
                          f"same) of candidates holding the answer (1) against the rest (0), {args.depth} from each index, "
                          + ", ".join(f"{name} {run['questions']} questions" for name, run in runs.items())
                          + f"; {date.today().isoformat()}",
                "command": environment.command_line(),
                "held_out_recall@5": {name: round(r["reranker, held out"]["recall@5"], 3) for name, r in results.items()},
            },
        }, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    write_json(OUT / "rerank.json", {
        "command": environment.command_line(), "depth": args.depth, "results": results,
        "loadavg_start": load_start, "loadavg_end": environment.loadavg(), "machine": environment.machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
