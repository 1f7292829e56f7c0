"""Fit the reader's abstention model on a reader-mode run of the SQuAD 2.0 sample.

    NEWSQA_ANSWER_MODE=reader python -m bench.eval squad2      # writes bench/out/eval_squad2.json
    python -m bench.reader_dev [--run bench/out/eval_squad2.json] [--fit]

Each bundled model has its own weights file (`calibration` in `reader/models.py`); `--fit` writes
the one of the model the run used (its `reader_model` setting).

The run keeps each question's reader features (`assistant/answering/reader/calibration.py`). A
reply that was declined or unsupported is always a "not found" and is left out. This fits a
logistic regression of answerable (1) against unanswerable (0) on them and picks the abstain
threshold that abstains on the most unanswerable questions while abstaining on at most
MAX_WRONG_ABSTAIN of the answerable ones. It first reports that rule held out (fit on one half,
measured on the other, both ways), so the figure is not the fit's own. `--fit` then refits on all
questions and rewrites `weights.json` with its provenance.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from bench.lib import OUT

MAX_WRONG_ABSTAIN = 0.08  # the target is 0.10 on the whole run; a margin for the threshold's noise


def reader_of(run: Path) -> tuple[Path, str]:
    """The weights file of the reader the run used (as the factory picks it) and how that reader read."""
    from assistant.answering.factory import reader_profile
    from core.settings import Settings

    engine = json.loads(run.read_text(encoding="utf-8")).get("engine", {})
    name = engine.get("settings", {}).get("reader_model", Settings.model_fields["reader_model"].default)
    reader = engine.get("reader", {})
    read = (f"{name}, {reader.get('sentences')} sentences"
            f"{', each with the one before' if reader.get('previous') else ''}")
    return reader_profile(Settings(reader_model=name)).calibration, read


def rows_of(run: Path) -> tuple[list[list[float]], list[int], list[str]]:
    from assistant.answering.reader.calibration import FEATURES

    data = json.loads(run.read_text(encoding="utf-8"))
    names = list(FEATURES)
    xs, ys = [], []
    for row in data["questions"]:
        features = row.get("reader")
        if not features or not all(name in features for name in names):
            continue  # nothing retrieved: the reader never ran
        if features["declined"] or features["unsupported"]:
            continue  # always a "not found" (ReaderAnswerer.judge): nothing to calibrate
        xs.append([float(features[name]) for name in names])
        ys.append(1 if row["answerable"] else 0)
    return xs, ys, names


def fit(xs, ys):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000).fit(xs, ys)


def threshold_for(probabilities, ys) -> float:
    """The highest threshold whose share of answerable questions below it stays within MAX_WRONG_ABSTAIN."""
    answerable = sorted(p for p, y in zip(probabilities, ys) if y == 1)
    allowed = int(MAX_WRONG_ABSTAIN * len(answerable))
    return float(answerable[allowed]) if answerable else 0.5


def rates(probabilities, ys, threshold) -> dict:
    answerable = [p for p, y in zip(probabilities, ys) if y == 1]
    unanswerable = [p for p, y in zip(probabilities, ys) if y == 0]
    return {
        "abstention_recall": sum(p < threshold for p in unanswerable) / max(1, len(unanswerable)),
        "wrong_abstentions": sum(p < threshold for p in answerable) / max(1, len(answerable)),
    }


def held_out(xs, ys) -> list[dict]:
    halves = [(list(range(0, len(xs), 2)), list(range(1, len(xs), 2)))]
    halves.append(halves[0][::-1])
    out = []
    for train, test in halves:
        model = fit([xs[i] for i in train], [ys[i] for i in train])
        threshold = threshold_for(model.predict_proba([xs[i] for i in train])[:, 1], [ys[i] for i in train])
        out.append(rates(model.predict_proba([xs[i] for i in test])[:, 1], [ys[i] for i in test], threshold))
    return out


def summary(run: Path) -> str:
    """The run's end-to-end figures, as the engine answered (rule and threshold included)."""
    rows = json.loads(run.read_text(encoding="utf-8"))["questions"]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def p50(key):
        values = sorted(r["timings"][key] for r in rows if key in r.get("timings", {}))
        return values[len(values) // 2] if values else float("nan")

    def share(items, test):
        return sum(map(test, items)) / len(items) if items else float("nan")

    def by_rule(row) -> bool:  # a declined or unsupported reply: "not found" whatever the confidence
        features = row.get("reader") or {}
        return bool(features.get("declined") or features.get("unsupported"))

    def echoed(row) -> bool:  # the reply only repeated the question: no short answer claimed
        return bool((row.get("reader") or {}).get("echo")) and not by_rule(row)

    def causes(items) -> str:
        rule = sum(r["abstained"] and by_rule(r) for r in items)
        echo = sum(r["abstained"] and echoed(r) for r in items)
        rest = sum(r["abstained"] for r in items) - rule - echo
        return (f"{rule} by the decline/unsupported rule, {echo} repeating the question, {rest} by the threshold "
                "or an answer check")

    return (f"{run.name}: {len(rows)} questions ({len(answerable)} answerable); answerable short-answer "
            f"EM {share(answerable, lambda r: r['em']):.3f} / F1 {share(answerable, lambda r: r['f1']):.3f}; abstention "
            f"recall {share(unanswerable, lambda r: r['abstained']):.3f}, wrong abstentions "
            f"{share(answerable, lambda r: r['abstained']):.3f}; p50 evidence {p50('evidence_ms'):.0f} ms, "
            f"answer {p50('answer_ms'):.0f} ms, total {p50('total_ms'):.0f} ms\n"
            f"abstained on, answerable: {causes(answerable)}; unanswerable: {causes(unanswerable)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=OUT / "eval_squad2.json")
    parser.add_argument("--fit", action="store_true", help="refit on every question and rewrite weights.json")
    args = parser.parse_args(argv)
    print(summary(args.run))
    xs, ys, names = rows_of(args.run)
    if len(set(ys)) < 2:
        print(f"{args.run} holds no reader features for both answerable and unanswerable questions: run "
              "NEWSQA_ANSWER_MODE=reader python -m bench.eval squad2 first", file=sys.stderr)
        return 2
    for n, result in enumerate(held_out(xs, ys), 1):
        print(f"held out, half {n}: abstention recall {result['abstention_recall']:.3f}, "
              f"wrong abstentions {result['wrong_abstentions']:.3f}")
    model = fit(xs, ys)
    probabilities = model.predict_proba(xs)[:, 1]
    threshold = threshold_for(probabilities, ys)
    on_all = rates(probabilities, ys, threshold)
    print(f"all {len(ys)} questions: threshold {threshold:.3f}, abstention recall {on_all['abstention_recall']:.3f}, "
          f"wrong abstentions {on_all['wrong_abstentions']:.3f}")
    weights = {name: round(float(w), 4) for name, w in zip(names, model.coef_[0])}
    print("weights:", json.dumps(weights))
    if args.fit:
        weights_file, read = reader_of(args.run)
        weights_file.write_text(json.dumps({
            "bias": round(float(model.intercept_[0]), 4),
            "weights": weights,
            "abstain_threshold": round(threshold, 4),
            "provenance": {
                "weights": f"logistic regression (scikit-learn, C=1) of answerable (1) against unanswerable (0) on the "
                           f"reader features of {len(ys)} questions of {args.run.name} ({date.today().isoformat()}), "
                           "python -m bench.reader_dev --fit",
                "abstain_threshold": f"highest threshold abstaining on at most {MAX_WRONG_ABSTAIN:.0%} of the answerable "
                                     "questions of the same run",
                "data": "SQuAD 2.0 dev, 500-question sample (shared/eval/squad2_500), retrieval over all 411 paragraphs",
                "reader": f"{weights_file.name}: the reader as the run read ({read})",
            },
        }, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {weights_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
