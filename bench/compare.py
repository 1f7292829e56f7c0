"""Which answers changed between two runs of `bench/eval.py` on the same dataset.

    python -m bench.compare BEFORE.json AFTER.json

A change is a different short answer or a different abstention. Each changed question is printed with
its gold, both outputs and their F1, then a count of changes by kind: answerable questions that became
right or wrong (F1 moved by more than 0.3) or changed without that, and unanswerable questions newly
answered, newly withheld ("not found"), or newly shown with their sentences and no short answer.
Questions in only one run are counted apart.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

MOVED = 0.3  # an F1 change larger than this counts as better or worse


def _shown(row: dict) -> str:
    return "not found" if row["abstained"] else repr(row["short_answer"] or "(sentences only)")


def kind(before: dict, after: dict) -> str:
    """The kind of one change (see the module docstring)."""
    if not after["answerable"]:
        if after["abstained"]:
            return "unanswerable, now withheld"
        return "unanswerable, now answered" if after["short_answer"] else "unanswerable, now sentences only"
    moved = after["f1"] - before["f1"]
    return "answerable, better" if moved > MOVED else "answerable, worse" if moved < -MOVED else "answerable, same F1"


def compare(before: dict, after: dict) -> tuple[list[str], Counter]:
    """Lines for each changed question, and the count of changes by kind."""
    old = {row["id"]: row for row in before["questions"]}
    new = {row["id"]: row for row in after["questions"]}
    lines, counts = [], Counter()
    for qid, row in new.items():
        was = old.get(qid)
        if was is None:
            counts["only in the second run"] += 1
            continue
        if (was["short_answer"], was["abstained"]) == (row["short_answer"], row["abstained"]):
            continue
        counts[kind(was, row)] += 1
        gold = (row["golds"] or [""])[0]
        lines.append(f"{row['question'][:90]} | gold {gold[:40]!r} | {_shown(was)} (F1 {was['f1']:.2f}) -> "
                     f"{_shown(row)} (F1 {row['f1']:.2f})")
    counts["only in the first run"] += len(old.keys() - new.keys())
    return lines, +counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = (json.loads(path.read_text(encoding="utf-8")) for path in (args.before, args.after))
    if before.get("dataset") != after.get("dataset"):
        parser.error(f"the runs are of different datasets: {before.get('dataset')} and {after.get('dataset')}")
    lines, counts = compare(before, after)
    print("\n".join(lines) if lines else "no answer changed")
    for name, count in sorted(counts.items()):
        print(f"{name}: {count}")


if __name__ == "__main__":
    main()
