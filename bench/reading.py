"""What the reader reads: how often the sentences shown to the model hold the answer.

    python -m bench.reading --index realtimeqa=DIR --index squad2=DIR [--limit N] [--variant NAME ...]

The reader model only sees the best few sentences of the extractive ranking (`reading()` in
assistant/answering/reader/answerer.py), so a gold answer outside them cannot be given, however
good the model. For every answerable question this retrieves the passages as the engine does
(RealTime QA questions with their own date as `as_of`), ranks their sentences with each variant of
the extractive stage, and counts a hit at n when a gold answer lies in the best n sentences
(bench/metrics.py `contains_any`, the rule of bench/eval.py). "passages" is the ceiling: a gold
answer somewhere in the retrieved passages. Also timed: the ranking's p50 per question (ms), on
this machine, with its load average.

Variants (`--variant`, repeatable; all by default):
- shipped: the extractive stage as the engine builds it;
- embed-N: the shipped ranking plus the embedder's cosine for the N best lexical sentences, always
  (the shipped Extractor consults it only below its coverage threshold, and only with embed_top > 0);
- role-W: the shipped ranking with a who-question's role noun ("Who is the mayor of ...") weighted W
  (`Extractor.role_weight`, question.py `ROLE_W` shipped; role-1 is no lift);
- parse-N: the shipped ranking with the N best lexical sentences parsed for an answer candidate
  (`Extractor.parse_top`, 3 shipped).

Each DIR is an index built by `python -m bench.eval NAME --index-dir DIR`. Writes
bench/out/reading.json. Nothing runs at import.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import environment
from bench.datasets import load
from bench.lib import OUT, mean, percentile, write_json
from bench.metrics import contains_any

SHOWN = (1, 2, 3, 4, 6)


def variants(names: list[str] | None, embed) -> dict:
    """Variant name -> Extractor; `embed` is the index's own embedder."""
    from assistant.answering.extractive.answerer import Extractor

    chosen = names or ["shipped", "embed-6", "embed-10"]
    out = {}
    for name in chosen:
        if name == "shipped":
            out[name] = Extractor()
        elif name.startswith("embed-"):
            out[name] = Extractor(embed=embed, embed_top=int(name.split("-", 1)[1]), embed_below=2.0)
        elif name.startswith("parse-"):
            out[name] = Extractor(parse_top=int(name.split("-", 1)[1]))
        elif name.startswith("role-"):
            out[name] = Extractor(role_weight=float(name.split("-", 1)[1]))
        else:
            raise SystemExit(f"unknown variant {name!r}")
    return out


def measure(name: str, folder: Path, names: list[str] | None, limit: int | None, model: str | None = None) -> dict:
    from assistant.engine import AnswerEngine
    from core.settings import Settings
    from index.store import ArticleIndex, Filters

    settings = Settings(data_dir=folder, answer_mode="extractive", _env_file=None,
                        **({"embedding_model": model} if model else {}))
    index = ArticleIndex.from_settings(settings)
    if index.is_empty():
        raise SystemExit(f"{folder} holds no index: build it with python -m bench.eval {name} --index-dir {folder}")
    engine = AnswerEngine.from_settings(settings, index=index)
    extractors = variants(names, index.embeddings.encode)
    questions = [q for q in load(name).questions if q["answerable"]][:limit]
    found = {v: {n: [] for n in SHOWN} for v in extractors}
    times = {v: [] for v in extractors}
    ceiling = []
    for q in questions:
        filters = Filters(as_of=q["date"]) if name == "realtimeqa" else None
        vector, passages, _ = engine.retriever.retrieve(q["question"], filters=filters)
        ceiling.append(any(contains_any(p.text, q["golds"]) for p in passages))
        for variant, extractor in extractors.items():
            started = time.perf_counter()
            ranked = extractor.answer(q["question"], passages, question_vector=vector).ranked
            times[variant].append((time.perf_counter() - started) * 1000)
            for n in SHOWN:
                found[variant][n].append(any(contains_any(s.text, q["golds"]) for s in ranked[:n]))
    engine.close()
    return {"questions": len(questions), "passages": mean(ceiling),
            "variants": {v: {**{f"in best {n}": mean(found[v][n]) for n in SHOWN},
                             "rank p50 ms": percentile(times[v], 50)} for v in extractors}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--variant", action="append", help="shipped, embed-N, role-W, parse-N (default: shipped, embed-6, embed-10)")
    parser.add_argument("--limit", type=int, help="the first N answerable questions of each dataset")
    parser.add_argument("--embedding-model", help="the model the indexes were built with, if not the default (`hash` for smoke tests)")
    parser.add_argument("--out", type=Path, default=OUT / "reading.json")
    args = parser.parse_args(argv)
    result = {"machine": environment.machine(), "loadavg_start": environment.loadavg(), "datasets": {}}
    for spec in args.index:
        name, _, folder = spec.partition("=")
        result["datasets"][name] = row = measure(name, Path(folder), args.variant, args.limit, args.embedding_model)
        print(f"{name}: {row['questions']} answerable questions, gold in the retrieved passages {row['passages']:.3f}")
        for variant, scores in row["variants"].items():
            print(f"  {variant:>10}: " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    result["loadavg_end"] = environment.loadavg()
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
