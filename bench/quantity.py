"""How often the quantity check (assistant/answering/extractive/quantity.py) would refuse a right answer.

    python -m bench.quantity [--datasets squad2,realtimeqa,rgb]

For every answerable question that names what it counts ("how many troops", "the population of")
and whose gold answer is a number, each place the gold occurs in the question's own articles is
checked as if the answer had been taken from there. A question counts as refused when the check
refuses every occurrence: then no sentence could give the gold answer through it. The refused
questions are listed for reading (a gold number that occurs only counting something else, "900
miles" for "how many troops", is a right refusal). No model, no index: seconds.
"""

from __future__ import annotations

import argparse
import re

from assistant.answering.extractive.quantity import asked_unit, counts_something_else
from bench import datasets as ds

_NUMBER = re.compile(r"^(about |some |nearly |more than )?[$£€]?\d")
_SENTENCE_START = re.compile(r"(?<=[.!?])\s+|\n")


def occurrences(text: str, gold: str) -> list[tuple[str, int, int]]:
    """(sentence, the gold's start and end offsets in it) for each place the gold occurs in `text`."""
    found = []
    for match in re.finditer(rf"(?<!\w){re.escape(gold)}(?!\w)", text):
        starts = [m.end() for m in _SENTENCE_START.finditer(text, 0, match.start())]
        start = starts[-1] if starts else 0
        end = next((m.start() for m in _SENTENCE_START.finditer(text, match.end())), len(text))
        found.append((text[start:end], match.start() - start, match.end() - start))
    return found


def measure(name: str) -> dict:
    dataset = ds.load(name)
    articles = {a.key: a for a in dataset.articles}
    checked, refused = 0, []
    for q in dataset.questions:
        if not q["answerable"] or asked_unit(q["question"]) is None:
            continue
        places = [place for key in q.get("article_keys", []) if key in articles
                  for gold in q["golds"] if gold and _NUMBER.match(gold)
                  for place in occurrences(articles[key].text, gold)]
        if not places:
            continue
        checked += 1
        if all(counts_something_else(q["question"], sentence, start, end) for sentence, start, end in places):
            refused.append({"question": q["question"], "golds": q["golds"],
                            "contexts": sorted({sentence[max(0, start - 60): end + 40] for sentence, start, end in places})[:3]})
    return {"dataset": name, "checked": checked, "refused": refused}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="squad2,realtimeqa,rgb")
    args = parser.parse_args(argv)
    for name in args.datasets.split(","):
        result = measure(name)
        print(f"{name}: {result['checked']} answerable questions that name what they count, with a numeric gold "
              f"in their articles; the check refuses every occurrence of the gold for {len(result['refused'])}")
        for item in result["refused"]:
            print(f"  {item['question']} (gold {item['golds'][0]!r}): " + " | ".join(map(repr, item["contexts"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
