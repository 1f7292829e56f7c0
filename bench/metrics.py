"""Scoring rules, each dataset's own (percentiles, means and the other shared helpers: `bench/lib.py`).

- RealTime QA (`scripts/utils/tools.py` of realtimeqa_public): lowercase, strip ASCII punctuation,
  drop the CJK counters 年/歳/人/년, collapse whitespace; articles are KEPT. EM and F1 (F1 is 0 when
  no token is shared, even for two empty strings), each the max over the golds.
- SQuAD 2.0 (`evaluate-v2.0.py`): also removes a/an/the; empty golds mean "unanswerable" and only
  an empty prediction scores there; F1 of two empty token lists is 1.
- MultiHop-RAG (`qa_evaluate.py`): a hit when prediction and gold share one lower-cased
  whitespace token; retrieval matches a gold fact with spaces and newlines removed.
- RGB (`evalue.py`): every gold element a case-insensitive substring of the output (an inner list
  is alternatives), and the output must not say "insufficient information".
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_COUNTERS = ("年", "歳", "人", "년")


def _strip_punct(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCT)


def normalize_realtimeqa(text: str) -> str:
    text = _strip_punct(text.lower())
    for counter in _COUNTERS:
        text = text.replace(counter, "")
    return " ".join(text.split())


def normalize_squad(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", _strip_punct(text.lower())).split())


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def realtimeqa_em(prediction: str, gold: str) -> float:
    return float(normalize_realtimeqa(prediction) == normalize_realtimeqa(gold))


def realtimeqa_f1(prediction: str, gold: str) -> float:
    return _token_f1(normalize_realtimeqa(prediction).split(), normalize_realtimeqa(gold).split())


def squad2_em(prediction: str, gold: str) -> float:
    return float(normalize_squad(prediction) == normalize_squad(gold))


def squad2_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_squad(prediction).split(), normalize_squad(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    return _token_f1(pred, ref)


def squad2_golds(golds: Sequence[str]) -> list[str]:
    """The official script drops golds that normalise to nothing; none left means unanswerable ([""])."""
    kept = [g for g in golds if normalize_squad(g)]
    return kept or [""]


def em_f1(prediction: str | None, golds: Sequence[str], rules: str) -> tuple[float, float]:
    """(EM, F1), max over golds, under one dataset's rules. `None` predicts nothing ("")."""
    prediction = prediction or ""
    if rules == "squad2":
        golds = squad2_golds(golds)
        return max(squad2_em(prediction, g) for g in golds), max(squad2_f1(prediction, g) for g in golds)
    if rules == "multihop" and golds == [""]:
        # null queries: scored like SQuAD-2 unanswerables (the right answer is to say nothing)
        return float(not normalize_squad(prediction)), float(not normalize_squad(prediction))
    if rules == "multihop":  # the sampling repo's eval.py: SQuAD-style EM/F1
        return max(squad2_em(prediction, g) for g in golds), max(squad2_f1(prediction, g) for g in golds)
    # realtimeqa and rgb: RealTime QA's rules (articles kept)
    return max(realtimeqa_em(prediction, g) for g in golds), max(realtimeqa_f1(prediction, g) for g in golds)


# Typographic quotes as their ASCII forms, which the normalisation strips: a gold written
# “Everything Everywhere All at Once” or M&M’s is in a passage that prints it with straight quotes.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'", "‚": "'", "‛": "'"})


def normalize_contained(text: str) -> str:
    """RealTime QA normalisation, typographic quotes counted as ASCII ones: for "does this text
    contain the gold", where how a page prints its quotes must not decide. (EM and F1 keep the
    official normalisation, which strips only ASCII punctuation.) 12 of RealTime QA's 294 scored golds
    have such quotes."""
    return normalize_realtimeqa(text.translate(_QUOTES))


def contains(text: str, gold: str) -> bool:
    """The normalised gold occurs in the normalised text as whole words (`normalize_contained`)."""
    needle = normalize_contained(gold)
    if not needle:
        return False
    return f" {needle} " in f" {normalize_contained(text)} "


def contains_any(text: str, golds: Iterable[str]) -> bool:
    return any(contains(text, g) for g in golds)


def multihop_hit(prediction: str, gold: str) -> bool:
    """MultiHop-RAG's qa_evaluate.py: at least one shared lower-cased whitespace token."""
    return bool(set(prediction.lower().split()) & set(gold.lower().split()))


def multihop_fact_in(fact: str, passage: str) -> bool:
    """MultiHop-RAG's retrieval_evaluate.py: the fact, spaces/newlines removed, inside the chunk."""
    squash = lambda s: s.replace(" ", "").replace("\n", "")  # noqa: E731
    return squash(fact) in squash(passage)


def rgb_correct(output: str, groups: Sequence[Sequence[str]]) -> bool:
    """RGB's evalue.py: every group matched (any alternative), and no 'insufficient information'."""
    lowered = output.lower()
    if "insufficient information" in lowered:
        return False
    return all(any(alt.lower() in lowered for alt in group) for group in groups)


def word_count(text: str) -> int:
    return len(text.split())
