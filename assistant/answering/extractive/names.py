"""Does the answer's article name what the question names?

"How many people died in Storm Hollis?", asked of a harbour story and a Syrian war story, was
answered "hundreds" from the war story ("hundreds of civilians have died"): a sentence that fits the
question's shape, in an article that never mentions Storm Hollis. An answer is only as good as its
article, so an answer whose article (the retrieved passages of it, and its title) lacks a name or a
number the question asks about is a "not found".

Measured with the extractive answerer (`python -m bench.eval squad2|realtimeqa --index-dir DIR`,
BENCHMARKS.md): most questions it stops were answered wrongly before, and SQuAD 2.0's unanswerable
questions, which often swap in a name the paragraph lacks, are stopped too.
"""

from __future__ import annotations

import re

from assistant.answering.base import RetrievedPassage
from assistant.answering.extractive.text import STOP, content_stems, stem, tokens

_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$", re.I)
_LAST_SENTENCE = re.compile(r"(?<=[.!?:])\s+")
_ASKING = frozenset("which what whose".split())
_ASIDE = re.compile(r",\s*(?:which|who|whose|where|when)\b[^,]*,", re.I)


def asked_names(question: str) -> list[str]:
    """Stems of the names and numbers the question asks about, one per name.

    - A run of capitalised words counts by its last word: "Joe Biden" by "biden", which an article
      may use alone.
    - Only the question's last sentence counts, not a quiz's lead-in ("X died this week. Which ...?"),
      nor an aside between commas (", which the company said was built in 1998,").
    - Left out: the word the question asks for ("which Republican", "what TV show"), ordinals
      ("3rd", which articles may spell out), single letters ("U.S." splits into "U" and "S")."""
    asked = _ASIDE.sub(",", _LAST_SENTENCE.split(question.strip())[-1])
    names: list[str] = []
    run = False
    previous = ""
    for i, word in enumerate(tokens(asked)):
        capital = (i > 0 and word[0].isupper() and word.lower() not in STOP and previous not in _ASKING
                   and len(word) > 1)
        if word[0].isdigit() and not _ORDINAL.match(word):
            names.append(stem(word))
        elif capital and run:
            names[-1] = stem(word)
        elif capital:
            names.append(stem(word))
        run = capital
        previous = word.lower()
    return names


def missing_names(question: str, passages: list[RetrievedPassage], doc_id: str) -> list[str]:
    """The question's names and numbers (`asked_names`) that article `doc_id` lacks, as far as the
    retrieved passages of it and its title show."""
    names = asked_names(question)
    if not names:
        return []
    found: set[str] = set()
    for p in passages:
        if p.doc_id == doc_id:
            found.update(content_stems(p.text))
            found.update(content_stems(p.title or ""))
    return [name for name in names if name not in found]
