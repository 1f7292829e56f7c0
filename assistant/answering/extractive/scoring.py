"""Sentence scoring: every sentence of the retrieved passages ranked lexically on normalised stems
(rarer question words count more, neighbouring sentences lend context), optionally nudged by the
embedder; only the best few are then parsed (`answerer.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answering.base import RetrievedPassage
from assistant.answering.extractive.question import Question
from assistant.answering.extractive.spans import Candidate
from assistant.answering.extractive.text import content_stems

if TYPE_CHECKING:  # numpy is only needed once the embedder is consulted
    import numpy as np

_W_RANK = 0.05  # sentence bonus for the retriever's passage order (a tie-breaker)
_W_EMB = 1.0  # sentence bonus per unit of cosine similarity, when the embedder is consulted


@dataclass
class Sentence:
    passage: int  # index of its passage, which is also the retriever's rank
    pos: int  # position of the sentence in its passage
    start: int
    end: int
    text: str
    stems: list[str]
    lex: float = 0.0
    coverage: float = 0.0
    ctx_coverage: float = 0.0
    emb: float | None = None
    score: float = 0.0
    best: Candidate | None = None


def collect_sentences(passages: list[RetrievedPassage]) -> list[Sentence]:
    """Each sentence once (overlapping passages share sentences), clipped to its passage."""
    seen: set[tuple[int, int]] = set()
    out: list[Sentence] = []
    for pi, p in enumerate(passages):
        pend = p.start + len(p.text)
        for pos, (s, e) in enumerate(p.sentences):
            s, e = max(s, p.start), min(e, pend)
            if e <= s or (s, e) in seen:
                continue
            text = p.text[s - p.start : e - p.start]
            if not text.strip():
                continue
            seen.add((s, e))
            out.append(Sentence(pi, pos, s, e, text, content_stems(text)))
    return out


def score_lexical(q: Question, sents: list[Sentence]) -> None:
    """Set each sentence's coverage, context coverage and lexical score."""
    total = sum(q.terms.values()) or 1.0
    n = len(sents)
    df: dict[str, int] = {}
    for s in sents:
        for st in set(s.stems):
            if st in q.terms:
                df[st] = df.get(st, 0) + 1
    # Rarer question terms decide between sentences; the static weight decides coverage.
    idf = {t: math.log(1.0 + (n + 1) / (df.get(t, 0) + 0.5)) for t in q.terms}
    idf_total = sum(q.terms[t] * idf[t] for t in q.terms) or 1.0
    by_passage: dict[int, set[str]] = {}
    for s in sents:
        by_passage.setdefault(s.passage, set()).update(s.stems)
    for s in sents:
        present = set(s.stems)
        hit = [t for t in q.terms if t in present]
        s.coverage = sum(q.terms[t] for t in hit) / total
        sel = sum(q.terms[t] * idf[t] for t in hit) / idf_total
        pairs = set(zip(s.stems, s.stems[1:]))
        big = len(q.bigrams & pairs)
        ctx = by_passage[s.passage] - present
        s.ctx_coverage = sum(q.terms[t] for t in q.terms if t in ctx) / total
        s.lex = sel + 0.15 * min(big, 2) + 0.2 * s.ctx_coverage + _W_RANK / (1 + s.passage)
        s.score = s.lex


def score_embedding(embed: Callable[[list[str]], np.ndarray], top: int, question: str, sents: list[Sentence],
                    qv: np.ndarray | None) -> None:
    """Add cosine similarity to the question for the `top` best lexical sentences (`qv`, when given,
    saves embedding the question again)."""
    import numpy as np

    pool = sorted(sents, key=lambda s: -s.lex)[:top]
    texts = [s.text for s in pool]
    if qv is None:
        vecs = embed([question] + texts)
        qv, vecs = vecs[0], vecs[1:]
    else:
        vecs = embed(texts)
    sims = np.asarray(vecs) @ np.asarray(qv).reshape(-1)
    for s, sim in zip(pool, sims):
        s.emb = float(sim)
        s.score += _W_EMB * float(sim)
