"""The `reader` backend: retrieval and the extractive stage pick the evidence, a small instruct model
reads the best sentences and writes the short answer, and the answer stays verbatim article text.

The order of work, and why:
1. The extractive stage ranks every sentence of the retrieved passages (tens of milliseconds) and
   its evidence is handed on at once as a provisional draft, so a reader sees sources immediately.
2. The model reads the best few sentences (each with the sentence before it, which often names who
   "he" is) quoted as data, and replies with a short phrase.
3. The reply is kept only if a shown sentence supports it (`support.py`); that sentence becomes the
   cited evidence. Otherwise the extractive short answer stands.
4. A reply no shown sentence supports, or a decline, is a "not found": the model read the best
   sentences and found nothing there. Otherwise whether to answer is decided from calibrated scores
   (`calibration.py`): the extractive confidence, the reader's token log-probabilities and the
   support check. The model's "unknown" alone could never be the whole decision: on SQuAD 2.0's
   unanswerable questions it almost never declines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from assistant import prompts
from assistant.answering.base import Draft, Evidence, RetrievedPassage
from assistant.answering.extractive.answerer import MAX_ANSWER_WORDS, EvidenceSentence, ExtractiveAnswerer, default_nlp
from assistant.answering.extractive.confidence import calibrated_threshold
from assistant.answering.extractive.deeds import TIMES, asks_the_future, past_for_a_future, pronoun_for_another, time_of_another_deed
from assistant.answering.extractive.names import describes_name, identity_name, missing_names, missing_subject
from assistant.answering.extractive.quantity import (
    amount_of_something_else,
    asks_amount,
    figure_asked,
    number_of_something_else,
    wrong_kind_of_time,
)
from assistant.answering.extractive.patterns import agent_of_another_clause, speaker_of_the_deed
from assistant.answering.extractive.question import MEASURES, Question, analyse_question, apply_parse, asks_speaker, speaks
from assistant.answering.extractive.spans import (
    HE_OR_SHE,
    coordinated,
    has_number,
    measured,
    subject_nouns,
    wants_number,
    with_scale,
)
from assistant.answering.reader import support as sup
from assistant.answering.reader.calibration import ReaderCalibration, reader_features
from assistant.answering.reader.runtime import Generation, ReaderBusy

if TYPE_CHECKING:
    import numpy as np

READ_SENTENCES = 4  # best-ranked sentences the model reads (each with its predecessor)
MAX_PROMPT_CHARS = 2400  # ~600 tokens: the sentences shown stop here
_HE_OR_SHE = re.compile(rf"\b(?:{'|'.join(HE_OR_SHE)})\b", re.I)  # a cheap test before parsing


class ReaderAnswerer:
    mode = "reader"
    live_text = False  # the answer text is article sentences, sent whole; the short answer comes with the final event

    def __init__(self, model, fallback: ExtractiveAnswerer, calibration: ReaderCalibration | None = None,
                 busy_wait_s: float | None = 2.0, max_tokens: int = 24, sentences: int = READ_SENTENCES,
                 previous: bool = True, clock=time.perf_counter):
        self.model = model  # runtime.LlamaReader or a fake with the same `generate`
        self.fallback = fallback
        self.calibration = calibration or ReaderCalibration.load()
        self.abstain_threshold = self.calibration.abstain_threshold
        self.busy_wait_s = busy_wait_s
        self.max_tokens = max_tokens
        self.sentences = sentences  # how many of the best-ranked sentences the model reads
        self.previous = previous  # each with the sentence before it in its passage
        self.clock = clock
        self.last_features: dict[str, float] = {}  # the bench reads these (and the reply) to fit the calibration
        self.last_reply = ""
        self.last_timings: dict = {}  # llama.cpp's prompt and generation token counts and times
        self._parsed: tuple[str, object] | None = None  # the last question and its parse (`_question_doc`)

    def close(self) -> None:
        self.fallback.close()
        close = getattr(self.model, "close", None)
        if close is not None:
            close()

    def chat(self, messages: list[dict]) -> Iterator[str]:
        """The model as a plain chat function (the follow-up rewrite uses it); nothing when it is busy,
        which the rewrite treats as no rewrite."""
        try:
            yield from self.model.generate(messages, Generation(), max_tokens=64, busy_wait_s=self.busy_wait_s)
        except ReaderBusy:
            return

    def warm_up(self) -> None:
        """Load the model and evaluate the fixed instructions once, so the first question is fast."""
        for _ in self.model.generate(messages("warm up", ["Nothing happened."]), Generation(), max_tokens=1):
            pass

    def stream(self, question: str, passages: list[RetrievedPassage],
               question_vector: np.ndarray | None = None) -> Iterator[str | Draft]:
        self.last_features, self.last_reply, self.last_timings = {}, "", {}
        if not passages:
            yield self.fallback.draft(question, passages, question_vector)
            return
        result = self.fallback.extractor.answer(question, passages, question_vector=question_vector)
        extractive = self.fallback.to_draft(result)
        extractive.provisional = True
        yield extractive
        shown = reading(passages, result.ranked, self.sentences, self.previous)
        generation = Generation()
        try:
            for _ in self.model.generate(messages(question, [s.text for s in shown]), generation,
                                         max_tokens=self.max_tokens, busy_wait_s=self.busy_wait_s):
                pass
        except ReaderBusy:
            yield self._without_reader(extractive, "extractive (reader busy)")
            return
        # the extractive stage's confidence in its sentences, not in its own short answer, which its checks may
        # have refused ("412" votes for "How old is Maria Castell?") while the model reads "41-year-old" there
        sure = result.confidence if result.evidence_confidence is None else result.evidence_confidence
        yield self.judge(question, passages, sure, extractive, shown, generation)

    def judge(self, question: str, passages: list[RetrievedPassage], extractive_confidence: float,
              extractive: Draft, shown: list[EvidenceSentence], generation: Generation) -> Draft:
        """The final draft from what the model wrote: supported or not, and how sure."""
        text = generation.text
        cut_off = len(generation.logprobs) >= self.max_tokens and " " in text.strip()
        if cut_off:  # drop the unfinished word
            text = text.strip().rsplit(" ", 1)[0]
        answer = sup.clean(text)
        # a reply cut off mid-phrase is not trimmed to a part of it: its part would end mid-name ("The Tragedy of")
        found = sup.support(answer, [s.text for s in shown], "" if cut_off else question) if answer else None
        lacks = names_lacked(question, passages, shown)
        found = self._in_the_named_article(lacks, shown, found, answer, "" if cut_off else question)
        if found is not None and found.exact:  # "5.8 percent" told of October for "What was inflation in September?",
            # the level reached ("to 4.75 percent") for "By how much did the bank raise its rate?"
            span = figure_asked(question, shown[found.sentence].text, found.start, found.end)
            found = replace(found, start=span[0], end=span[1]) if span else None
        said = shown[found.sentence].text[found.start:found.end] if found and found.exact else answer
        echo = bool(answer) and sup.echoes_question(said, question, lambda text, new: sup.names_a_thing(self._nlp(), text, new))
        features = reader_features(extractive_confidence, generation.logprobs, answer is None, found, echo, passages,
                                   generation.first_top)
        self.last_features = features
        self.last_reply = generation.text
        self.last_timings = {key: generation.timings[key] for key in
                             ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms") if key in generation.timings}
        confidence = self.calibration.confidence(features)
        asked = analyse_question(question)  # the who branch below adds the question's parse to it
        if found is not None and found.exact and number_of_something_else(
                question, shown[found.sentence].text, found.start, found.end):
            found = None  # a number that counts something else ("40,000" homes for a population), a loan for a
            # price, a winning margin for a total
        elif found is not None and wrong_kind_of_time(question, answer):
            found = None  # "June 6" for "how long?": when, not how long
        elif found is not None and found.exact and self._of_another_deed(asked, question, shown[found.sentence].text,
                                                                          found.start, found.end):
            found = None  # "2009" of "SolarCrest, founded in 2009" for "When was the SolarCrest deal announced?",
            # "five days" of "The last strike ... lasted five days" for "How long will the strike last?"
        elif found is not None and wants_number(asked) and not has_number(said):
            found = None  # "cash" for "What is Northvale paying for SolarCrest?": a sum needs a number
        elif found is not None and asks_amount(question) and amount_of_something_else(
                question, subject_nouns(self._question_doc(question)), shown[found.sentence].text):
            found = None  # the cost of the clinics for "How much did the campaign cost?"
        elif found is not None and self._of_someone_else(question, passages, shown[found.sentence]):
            found = None  # "31" of "He scored 31 goals" (Reyes) for "How many goals did Liam Foster score?"
        if found is not None and asks_speaker(question) and not speaks(shown[found.sentence].text):
            # "Who said this is the final battle?" -> "U.S.-backed militias", of a sentence where no one
            # speaks: the extractive stage's speaker stands if its sentence has one speak, else not found
            if extractive.short_answer and extractive.evidence and speaks(extractive.evidence[0].text):
                return Draft(extractive.answer, extractive.evidence, extractive.short_answer, confidence)
            found, echo = None, False
        if found is not None and lacks(found.sentence):
            found, echo = None, False  # "Storm Hollis" asked, answered from an article without it: not this article
        elif found is not None and missing_subject(said, subject_nouns(self._question_doc(question)), passages,
                                                   passages[shown[found.sentence].passage].doc_id):
            found, echo = None, False  # a date of a measles story for "What was inflation in August?"
        if found is None and not echo and asked.kind == "yesno":
            # "Did Northvale buy SolarCrest?": no sentence says "yes", so the model's yes or no is never
            # supported and is not shown; the extractive stage's sentences are, without a short answer,
            # judged as the extractive mode judges them (a reader then sees what the articles say)
            return self._without_reader(extractive, None)
        if found is None and not echo:
            # The model read the best sentences and found nothing there (it declined, or wrote what no
            # sentence says): the extractive guess is not shown instead. Measured on 200 SQuAD 2.0
            # questions: 24 such replies, 14 on unanswerable questions, and the extractive short
            # answer scored F1 0.10 on the other 10.
            return Draft(extractive.answer, extractive.evidence, None, confidence, abstained=True)
        if echo:
            # The model only repeated the question: it found no answer in the best sentence, so no short
            # answer is claimed; the sentence is still shown as evidence. (The extractive short answer
            # in its place was right for "Who is Ingrid Halvorsen?" but said "the terminal" for "What
            # did the council agree to?".) One exception: asked who a named person is, the model tends
            # to give the name, and the extractive description stands when the sentence puts it right
            # beside the name ("The company's chief executive, Sarah Mbeki").
            name = identity_name(question)
            if (name and extractive.short_answer and extractive.evidence
                    and describes_name(extractive.short_answer, name, extractive.evidence[0].text)):
                return Draft(extractive.answer, extractive.evidence, extractive.short_answer, confidence)
            if not extractive.short_answer and wants_number(asked):
                # "What did Northvale pay for SolarCrest?" -> "SolarCrest", over the extractive sentence whose
                # number it refused (the new borrowing): a sum asked, and neither found one, so not found
                return Draft(extractive.answer, extractive.evidence, None, confidence, abstained=True)
            return Draft(extractive.answer, extractive.evidence, None, confidence)
        sentence = shown[found.sentence]
        short = sentence.text[found.start:found.end] if found.exact else answer
        kind = asked.kind if found.exact else None
        if kind == "who":  # "the council" of "the council and tribal elders"
            nlp = self._nlp()
            doc = nlp(sentence.text)
            apply_parse(asked, self._question_doc(question))
            if speaker_of_the_deed(asked, doc, found.start, found.end):
                # "Daniel Mercer" of "Daniel Mercer said the fire was probably caused by a power line" for "Who
                # caused the fire?": he said who did it; the best sentences are shown, no one claimed
                return Draft(extractive.answer, extractive.evidence, None, confidence)
            # "Goldman Sachs" of "Goldman Sachs advised Northvale, and Santander advised SolarCrest"
            # for "Who advised SolarCrest?": the subject of the clause the question names instead
            start, end = agent_of_another_clause(asked, doc, found.start, found.end) or (found.start, found.end)
            start, end = coordinated(doc, start, end)
            short = sentence.text[start:end]
        elif kind in MEASURES:  # "nine" of "waves of up to nine metres"
            start, end = measured(self._nlp()(sentence.text), found.start, found.end)
            short = sentence.text[start:end]
        elif found.exact:  # "95" of "a profit of 95 million"
            start, end = with_scale(sentence.text, found.start, found.end)
            short = sentence.text[start:end]
        evidence = [Evidence(sentence.passage, sentence.start, sentence.end, sentence.text)]
        for extra in extractive.evidence:  # the extractive best sentence, if another, while the answer stays brief
            words = sum(len(e.text.split()) for e in evidence) + len(extra.text.split())
            if extra not in evidence and words <= MAX_ANSWER_WORDS:
                evidence.append(extra)
        text = " ".join(f"{e.text} [{n}]" for n, e in enumerate(evidence, 1))
        return Draft(text, evidence, short, confidence)

    def _of_another_deed(self, asked: Question, question: str, sentence: str, start: int, end: int) -> bool:
        """The answer `sentence[start:end]` dates another deed than the one asked, or tells when or how long
        something was where the question asks when or how long it will be (parsed only where they may apply)."""
        if asked.kind not in TIMES or (asked.kind != "when" and not asks_the_future(question)):
            return False
        question_doc, doc = self._question_doc(question), self._nlp()(sentence)
        return ((asked.kind == "when" and time_of_another_deed(question_doc, doc, start, end))
                or past_for_a_future(question_doc, doc, start, end))

    def _of_someone_else(self, question: str, passages: list[RetrievedPassage], sentence: EvidenceSentence) -> bool:
        """The sentence's "he" or "she" is another person than the one the question names (`pronoun_for_another`),
        judged from the sentence before it in its article (`_previous`)."""
        if not _HE_OR_SHE.search(sentence.text):
            return False
        nlp = self._nlp()
        question_doc = self._question_doc(question)
        if not any(e.label_ == "PERSON" for e in question_doc.ents):
            return False
        before = _previous(passages, sentence)
        return pronoun_for_another(question_doc, nlp(sentence.text), nlp(before.text) if before is not None else None)

    @staticmethod
    def _in_the_named_article(lacks: Callable[[int], list[str]], shown: list[EvidenceSentence],
                              found: sup.Support | None, answer: str, asked: str) -> sup.Support | None:
        """Where the answer stands in several shown sentences, the first in an article that has the question's
        names (`lacks`, of `names_lacked`): "Sky Digital" for "What was the name of BSkyB's digital service
        launched under?" of "BSkyB's digital service was ... launched ... under the name Sky Digital", not of
        "When Sky Digital was launched in 1998 ..." in a paragraph that never says BSkyB."""
        if found is None or not found.exact or not lacks(found.sentence):
            return found
        for n in range(found.sentence + 1, len(shown)):
            if not lacks(n):
                other = sup.support(answer, [shown[n].text], asked)
                if other is not None and other.exact:
                    return replace(other, sentence=n)
        return found

    def _question_doc(self, question: str):
        """The question's parse, made once for the several checks that read it (held in a local, so a
        thread judging another question meanwhile cannot hand back its parse)."""
        parsed = self._parsed
        if parsed is None or parsed[0] != question:
            parsed = self._parsed = (question, self._nlp()(question))
        return parsed[1]

    def _nlp(self):
        """spaCy: the extractive stage's, or this process's own where that stage runs in worker processes."""
        return getattr(self.fallback.extractor, "nlp", None) or default_nlp()

    def _without_reader(self, extractive: Draft, mode: str | None) -> Draft:
        """The extractive draft, judged by the extractive threshold's scale (the reader never ran, or its reply
        cannot be judged)."""
        scale = self.calibration.abstain_threshold / max(calibrated_threshold(), 1e-6)
        return Draft(extractive.answer, extractive.evidence, extractive.short_answer,
                     min(1.0, extractive.confidence * scale), mode=mode)


def names_lacked(question: str, passages: list[RetrievedPassage],
                 shown: list[EvidenceSentence]) -> Callable[[int], list[str]]:
    """`missing_names` for the article of shown sentence n, each article judged once (it may read the
    whole article)."""
    lacking: dict[str, list[str]] = {}

    def lacks(n: int) -> list[str]:
        doc_id = passages[shown[n].passage].doc_id
        if doc_id not in lacking:
            lacking[doc_id] = missing_names(question, passages, doc_id)
        return lacking[doc_id]

    return lacks


def reading(passages: list[RetrievedPassage], ranked: list[EvidenceSentence],
            count: int = READ_SENTENCES, previous: bool = True) -> list[EvidenceSentence]:
    """The sentences shown to the model: the best `count`, each preceded (with `previous`) by the
    sentence before it in its article (once; `_previous`), within MAX_PROMPT_CHARS."""
    shown: list[EvidenceSentence] = []
    seen: set[tuple[int, int]] = set()
    used = 0
    for best in ranked[:count]:
        group = [before] if previous and (before := _previous(passages, best)) else []
        for sentence in [*group, best]:
            key = (sentence.start, sentence.end)
            if key in seen or used + len(sentence.text) > MAX_PROMPT_CHARS:
                continue
            seen.add(key)
            used += len(sentence.text)
            shown.append(sentence)
    return shown


def _previous(passages: list[RetrievedPassage], sentence: EvidenceSentence) -> EvidenceSentence | None:
    """The sentence right before `sentence` in its article: in its own passage, or, where `sentence` opens its
    passage, the one ending just before it in another retrieved passage of the same article ("He scored 31
    goals" after "Reyes, 24, has agreed ...")."""
    texts = passages[sentence.passage].sentence_texts()
    for (s, e, text), (start, _end, _text) in zip(texts, texts[1:]):
        if start == sentence.start:
            return EvidenceSentence(sentence.passage, s, e, text, 0.0)
    doc_id = passages[sentence.passage].doc_id
    for n, passage in enumerate(passages):
        if n != sentence.passage and passage.doc_id == doc_id:
            for s, e, text in passage.sentence_texts():
                if e <= sentence.start and sentence.start - e <= 3 and not text[-1:].isspace():
                    return EvidenceSentence(n, s, e, text, 0.0)
    return None


def messages(question: str, sentences: list[str]) -> list[dict]:
    """The fixed instructions first (llama.cpp reuses their state between questions), then the
    sentences, numbered, one per line (a sentence cannot break out of its line)."""
    lines = "\n".join(f"[{n}] {' '.join(text.split())}" for n, text in enumerate(sentences, 1))
    return [
        {"role": "system", "content": prompts.render("reader_system", unknown=sup.UNKNOWN)},
        {"role": "user", "content": prompts.render("reader_user", sentences=lines, question=" ".join(question.split()))},
    ]
