"""Whether an answer is of the deed, the time and the person asked: a date of another deed than the
question's, what happened where it asks what will, and a "he" or "she" who is someone else than the person
it names. Each judges an answer found in a parsed sentence against the parsed question."""

from __future__ import annotations

import re

from assistant.answering.extractive.question import GENERAL_VERBS, SPEECH, verb_stems
from assistant.answering.extractive.spans import HE_OR_SHE, last_person, roots, within
from assistant.answering.extractive.text import stem


def _governing_verb(doc, start: int, end: int):
    """The verb the answer `doc.text[start:end]` hangs from, through its preposition ("launched" of "launched
    ... on June 6"), or None where the answer is no one phrase or hangs from no verb ("the Friday meeting")."""
    inside = [t for t in within(doc, start, end) if not t.is_punct]
    heads = roots(inside)
    if len(heads) != 1:
        return None
    word = heads[0]
    while word.dep_ == "compound" and word.head.i != word.i:  # "Sunday" of "on Sunday afternoon"
        word = word.head
    verb = word.head
    while verb.pos_ == "ADP" and verb.head.i != verb.i:
        verb = verb.head
    return verb if verb.pos_ == "VERB" else None


def time_of_another_deed(question_doc, doc, start: int, end: int) -> bool:
    """For "when was it done?": True when the answer `doc.text[start:end]` dates another deed than the
    parsed question's ("2009" of "SolarCrest, founded in 2009" for "When was the SolarCrest deal
    announced?"). The question's deed is its main verb; the answer's, the verb the answer hangs from,
    through its preposition ("in"). An answer that hangs from no verb ("the Friday meeting") is not judged."""
    root = list(question_doc.sents)[-1].root
    verb = _governing_verb(doc, start, end)
    if root.pos_ != "VERB" or verb is None:
        return False
    asked, said = root.lemma_.lower(), verb.lemma_.lower()
    if asked in GENERAL_VERBS or said in GENERAL_VERBS:
        return False  # "When will Castell take office?": too general a verb to tell
    if asked in SPEECH and said in SPEECH:
        return False  # "the two companies said on Friday" for "announced"
    return not verb_stems(asked) & (verb_stems(said) | {stem(verb.text)})


_FUTURE = frozenset({"will", "shall", "'ll"})
_FUTURE_ASKED = re.compile(r"\b(?:will|shall)\b|'ll\b", re.I)


def asks_the_future(question: str) -> bool:
    """Whether the question may ask what will be (a cheap test before parsing it for `past_for_a_future`)."""
    return bool(_FUTURE_ASKED.search(question))


TIMES = frozenset({"when", "duration"})  # the question kinds `past_for_a_future` judges


def past_for_a_future(question_doc, doc, start: int, end: int) -> bool:
    """True when the question asks when or how long something will be ("How long will the strike last?",
    "When will the strike start?"; callers ask only for `TIMES`) and the answer `doc.text[start:end]`
    hangs from a verb in the simple past: "five days" of "The last strike ... lasted five days", "Sunday"
    of "A wildfire that started on Sunday". What happened is not what will happen. Passives and perfects
    are not judged: "was scheduled for May", "has been called for 14 March" may well say when it will be.
    Other kinds are not judged either: "called their daughter a princess" does say which title she will
    be known by."""
    root = list(question_doc.sents)[-1].root
    if not any(c.dep_ == "aux" and c.lower_ in _FUTURE for c in root.children):
        return False
    verb = _governing_verb(doc, start, end)
    return verb is not None and verb.tag_ == "VBD"


def pronoun_for_another(question_doc, doc, before) -> bool:
    """True when the question names a person whom neither the sentence `doc` nor the sentence before it
    (`before`, parsed) names, and the sentence's "he" or "she" is someone that sentence before does name (a
    person, or its subject's name): "He scored 31 goals" after "Reyes, 24, has agreed a five-year
    contract" is Reyes's tally, not Liam Foster's. Not judged where the sentence before names no one."""
    asked = {t.lower_ for e in question_doc.ents if e.label_ == "PERSON" for t in e if t.is_alpha}
    if not asked or before is None or any(t.lower_ in asked for t in (*doc, *before)):
        return False
    if not any(t.lower_ in HE_OR_SHE and t.dep_ in ("nsubj", "nsubjpass") for t in doc):
        return False
    subject = next((t for t in before if t.dep_ in ("nsubj", "nsubjpass") and t.head.dep_ == "ROOT"), None)
    # spaCy may take a surname alone for a common noun or an organisation: "Reyes" (NOUN, ORG)
    named = subject is not None and (subject.pos_ == "PROPN" or subject.ent_type_ in ("PERSON", "ORG"))
    return named or last_person(before) is not None
