"""What the bench scripts share: where things are, percentiles, JSON out, and the targets.

`targets` lives here because both `bench/perf.py` (when it runs) and `bench/report.py` (when it
regenerates BENCHMARKS.md with today's eval results) judge a perf result by it; neither script
imports the other's module for it. The machine and versions a result ran on: `bench/environment.py`.
Each dataset's scoring rules: `bench/metrics.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def eval_dir() -> Path:
    """The shared datasets, read in place: `../shared/eval` beside the checkout, or NEWSQA_EVAL_DIR."""
    return Path(os.environ.get("NEWSQA_EVAL_DIR", ROOT.parent / "shared" / "eval"))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def stats(values: list[float]) -> dict:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "mean": mean(values), "n": len(values)}


def write_json(path: Path, data, indent: int | None = 1) -> Path:
    """One result file (its folder created); values JSON cannot hold are written as strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=False, default=str))
    return path


def read_json(path: Path) -> dict | None:
    """A result file, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def asked_then(q: dict):
    """A dated question (RealTime QA's `question_date`) is asked as of its date, so "this week" means
    its week (the retriever's news-time preference), not the day the benchmark runs. None without a date."""
    from index.store import Filters

    return Filters(as_of=q["date"]) if q.get("date") else None


def targets(result: dict, realtimeqa_eval: dict | None = None, out_dir: Path = OUT) -> list[dict]:
    """The goals a perf result is judged against, each with what was measured and whether it passed
    (None: not measured). `realtimeqa_eval` defaults to out_dir/eval_realtimeqa.json."""
    out = []
    ing = result.get("ingest")
    if ing:
        ours, base = ing["ours"], ing["baseline"]
        # issue 14 judges ingest by articles/s: our passages are smaller than the baseline's chunks
        ok = ing["ratio_articles_per_s"] >= 2 and (ours["recall_at_4"] or 0) >= (base["recall_at_4"] or 0)
        undated = ours.get("recall_at_4_undated")
        out.append({"target": "ingestion ≥ 2× baseline articles/s, with recall@4 ≥ baseline's",
                    "measured": f"{ing['ratio_articles_per_s']:.2f}× articles/s ({ing['ratio_passages_per_s']:.2f}× passages/s; "
                                f"per CPU-second {ing.get('ratio_articles_per_cpu_s', float('nan')):.2f}× articles, "
                                f"{ing.get('ratio_passages_per_cpu_s', float('nan')):.2f}× passages); "
                                f"recall@4 {ours['recall_at_4']:.3f} vs {base['recall_at_4']:.3f}"
                                + (f" (ours asked as of today: {undated:.3f})" if undated is not None else ""),
                    "passed": ok})
    scale = result.get("scale") or []
    near20k = min(scale, key=lambda r: abs(r["passages"] - 20000), default=None)
    if near20k:
        out.append({"target": "warm ask p50 < 50 ms (index nearest 20k passages)",
                    "measured": f"{near20k['ask']['p50']:.0f} ms at {near20k['passages']} passages", "passed": near20k["ask"]["p50"] < 50})
    served_ = result.get("served") or {}
    if served_.get("answers_per_s") is not None:
        out.append({"target": f"≥ 30 answers/s with {served_['clients']} clients",
                    "measured": f"{served_['answers_per_s']:.1f} answers/s, p95 {served_['p95_ms']:.0f} ms",
                    "passed": served_["answers_per_s"] >= 30})
    else:
        out.append({"target": "≥ 30 answers/s with 8 clients", "measured": served_.get("skipped", "not run"), "passed": None})
    if realtimeqa_eval is None:
        realtimeqa_eval = read_json(out_dir / "eval_realtimeqa.json")
    if realtimeqa_eval and "scores" in realtimeqa_eval:
        scores = realtimeqa_eval["scores"]
        partial = realtimeqa_eval.get("limit") or realtimeqa_eval.get("small_corpus")
        out.append({"target": f"RealTime QA short-answer F1 > 0.408 (python -m bench.eval realtimeqa, "
                              f"{'PARTIAL: ' if partial else ''}{scores['n']} questions)",
                    "measured": f"{scores['f1']:.3f} (EM {scores['em']:.3f})", "passed": scores["f1"] > 0.408})
    else:
        out.append({"target": "RealTime QA short-answer F1 > 0.408 (full eval)", "measured": "run python -m bench.eval realtimeqa",
                    "passed": None})
    try:  # the baselines' own setting: each question searches only its own search results
        own = read_json(out_dir / "eval_realtimeqa_own.json")
        out.append({"target": f"RealTime QA short-answer F1 > 0.408 (python -m bench.eval realtimeqa --own-articles, "
                              f"{own['scores']['n']} questions)",
                    "measured": f"{own['scores']['f1']:.3f} (EM {own['scores']['em']:.3f})", "passed": own["scores"]["f1"] > 0.408})
    except (TypeError, KeyError):
        pass
    if ing:
        out.append({"target": f"RealTime QA short-answer F1 > 0.408 (this run's {ing['questions']} questions, small pool)",
                    "measured": f"{ing['ours']['f1']:.3f}", "passed": ing["ours"]["f1"] > 0.408})
    return out
