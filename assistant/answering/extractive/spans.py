"""Candidate short answers inside one parsed sentence, scored: named entities whose label fits the
question's answer type, dependency-pattern spans (`patterns.py`), noun chunks as a fallback, with
spans that only repeat the question dropped and spans far from the question's words penalised.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from assistant.answering.extractive.patterns import deed_told, entities, np_span, pattern_spans, speaks_of_the_deed, trim
from assistant.answering.extractive.question import Question
from assistant.answering.extractive.text import CURRENCY, stem

_NP_FALLBACK = 0.1  # type score of a plain noun chunk when the question wants an entity
_W_TREE = 0.3  # answer-span proximity to the question's words: in the parse tree ...
_W_LIN = 0.3  # ... and in the word order
_W_SPEAKER = 1.0  # penalty for the speaker of a sentence telling the deed a who-question asks about
_PRONOUNS = frozenset("he she it they him her them i we you this that these those who which".split())


@dataclass
class Candidate:
    start: int  # character offsets in the sentence text
    end: int
    score: float
    pattern: bool


def _tree_distance(a, b) -> int:
    """Edges between two tokens of one parse."""
    up_a = [a] + list(a.ancestors)
    pos = {t.i: d for d, t in enumerate(up_a)}
    for d, t in enumerate([b] + list(b.ancestors)):
        if t.i in pos:
            return d + pos[t.i]
    return 12


def _part_asked(counted, asked: set[str]):
    """The number a part of `counted` is counted by, where the question's own verb governs it: "2,300" of
    "represents about 2,300 of the company's 2,800 drivers" for "How many drivers does the union
    represent?" (the whole, 2,800, stays the answer to "How many drivers does the company have?")."""
    of = counted.head
    if counted.dep_ != "pobj" or of.lower_ != "of" or of.head.i == of.i:
        return None
    part = of.head
    if not part.like_num or part.head.i == part.i or stem(part.head.text) not in asked:
        return None
    return part


def candidates(q: Question, doc) -> list[Candidate]:
    """Scored answer spans of one parsed sentence, best first."""
    ents = entities(doc)
    focus = q.focus
    ask = set(q.terms) - {focus} | set(q.target)  # words the answer must not merely repeat
    matched = [t for t in doc if not t.is_stop and stem(t.text) in ask]
    untyped = not q.labels and q.kind in ("what", "which", "blank")
    spans: dict[tuple[int, int], list[float]] = {}  # (i, j) -> [type, pattern]

    def add(i: int, j: int, typ: float = 0.0, pat: float = 0.0) -> None:
        if j < i:
            return
        cur = spans.setdefault((i, j), [0.0, 0.0])
        cur[0] = max(cur[0], typ)
        cur[1] = max(cur[1], pat)

    wants_name = untyped and bool(_NAME_Q.search(q.text))
    for ei, ej, label in ents:
        if q.labels:
            typ = q.labels.get(label, 0.0)
        elif untyped:  # "what did officials find?": a name or thing, rarely a bare date or number
            typ = 0.6 if wants_name else 0.1 if label in _NUMERIC_LABELS else 0.3
        else:
            typ = 0.0
        add(ei, ej, typ=typ)
    for i, j, bonus in pattern_spans(q, doc):
        typ = 0.0
        for ei, ej, label in ents:
            if ei >= i and ej <= j:
                typ = max(typ, q.labels.get(label, 0.0) * 0.8)
        add(i, j, typ=typ, pat=bonus)
        if q.role == "copula":
            continue
        # The typed entity inside a pattern span is itself a good, shorter answer.
        for ei, ej, label in ents:
            if ei >= i and ej <= j and q.labels.get(label, 0.0) > 0:
                add(ei, ej, typ=q.labels[label], pat=bonus * 0.8)
    if q.wants_short and q.kind not in ("why", "how"):
        for nc in doc.noun_chunks:
            typ = _NP_FALLBACK if not untyped else 0.25
            pat = 0.0
            if focus and stem(nc.root.text) == focus and q.kind not in _NUMERIC_KINDS:
                typ, pat = max(typ, 0.7), 0.6
            if wants_name and nc.root.pos_ == "PROPN":
                typ = max(typ, 0.5)
            add(nc.start, nc.end - 1, typ=typ, pat=pat)
            # "continuous input of sediment": keep an of-phrase that follows the chunk
            nxt = doc[nc.end] if nc.end < len(doc) else None
            if nxt is not None and nxt.lower_ == "of" and nxt.head.i == nc.root.i:
                pobj = next((c for c in nxt.children if c.dep_ == "pobj"), None)
                if pobj is not None:
                    i, j = np_span(pobj)
                    if j - nc.start < 8:
                        add(nc.start, j, typ=typ, pat=pat)
    named: set[int] = set()  # focus nouns followed by a name: "the drug Narcan" answers with the name
    if focus:
        for t in doc:
            if stem(t.text) == focus:
                for c in t.children:
                    if c.dep_ == "nummod" and q.kind in ("count", "amount"):
                        for ei, ej, _label in ents:
                            if ei <= c.i <= ej:
                                add(ei, ej, typ=1.0, pat=1.0)
                        add(*trim(doc, c.left_edge.i, c.i), typ=0.8, pat=1.0)
                        part = _part_asked(t, ask)
                        if part is not None:  # "represents about 2,300 of the company's 2,800 drivers"
                            add(*trim(doc, part.left_edge.i, part.i), typ=1.0, pat=1.2)
                    if c.dep_ == "compound" and c.pos_ == "PROPN":
                        add(*trim(doc, c.left_edge.i, c.i), typ=0.5, pat=0.3)
                    if c.dep_ == "appos" and c.pos_ == "PROPN" and c.right_edge.i - c.left_edge.i < 6:
                        add(*trim(doc, c.left_edge.i, c.right_edge.i), typ=0.9, pat=0.8)
                # "the overdose reversal drug Narcan": the name right after the focus noun
                end = t.i + 1
                while end < len(doc) and doc[end].pos_ == "PROPN" and end - t.i <= 5:
                    end += 1
                if end > t.i + 1:
                    add(t.i + 1, end - 1, typ=0.9, pat=0.8)
                    named.add(t.i)
    # "Who caused the fire?" over "Fire chief Daniel Mercer said the fire was probably caused by a power line"
    told = deed_told(q, doc)
    out: list[Candidate] = []
    for (i, j), (typ, pat) in spans.items():
        if typ <= 0 and pat <= 0:
            continue
        toks = doc[i : j + 1]
        words = [t for t in toks if not t.is_punct]
        if not words or (len(words) == 1 and words[0].lower_ in _PRONOUNS):
            continue
        content = [t for t in words if (not t.is_stop or t.like_num) and stem(t.text) != focus]
        if not content:
            continue
        overlap = sum(1 for t in content if stem(t.text) in ask) / len(content)
        if overlap >= 0.999:
            continue
        if matched:
            root = toks.root
            dist = min(_tree_distance(root, m) for m in matched)
            lin = min(min(abs(m.i - i), abs(m.i - j)) for m in matched)
        else:
            dist = lin = 12
        prox = _W_TREE * math.exp(-dist / 3.0) + _W_LIN * math.exp(-lin / 8.0)
        length_pen = 0.04 * max(0, len(words) - 6) + (1.0 if toks.root.i in named else 0.0)
        if told and speaks_of_the_deed(q, toks.root):
            length_pen += _W_SPEAKER  # who said it was done, not who did it
        score = 2.0 * typ + pat + prox - 1.5 * overlap - length_pen + _shape(q, toks.text)
        out.append(Candidate(toks[0].idx, toks[-1].idx + len(toks[-1].text), score, pat > 0))
    # "What did Lena Fischer say about the deal?": what was said, the clause of the speaking verb, before
    # any name beside it ("Northvale" of "said Lena Fischer, Northvale's chief executive")
    said = q.role == "say"
    out.sort(key=lambda c: (said and not c.pattern, -c.score, c.start, c.end))
    return out


_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion billions trillion dozen dozens "
    "half several".split()
)
_NUMERIC_KINDS = frozenset({"count", "amount", "measure", "duration", "age"})
_NUMERIC_LABELS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"})
_NAME_Q = re.compile(r"\b(name|named|called|known as|titled|title)\b", re.I)


_COUNTED = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})


def has_number(text: str) -> bool:
    """Digits or a number word ("300,000", "three", "dozens")."""
    low = text.lower()
    return bool(re.search(r"\d", low)) or bool(set(re.findall(r"[a-z]+", low)) & _NUMBER_WORDS)


def wants_number(q: Question) -> bool:
    """The question asks for a count, amount or measure: "how many ...", "what is the population of ...",
    "what was the cost ..." (its likeliest answer label counts something)."""
    if q.kind in _NUMERIC_KINDS - {"duration", "age"}:
        return True
    return bool(q.labels) and max(q.labels, key=q.labels.get) in _COUNTED and q.labels.get("DATE", 0.0) < 0.5


def _shape(q: Question, text: str) -> float:
    """Penalty for spans whose surface cannot be the asked-for thing (a year without 4 digits)."""
    low = text.lower()
    words = set(re.findall(r"[a-z]+", low))
    numeric = has_number(low)
    if q.focus == "year":
        return 0.0 if re.search(r"\b\d{4}s?\b", low) else -2.0
    if q.focus == "month":
        return 0.0 if words & _MONTHS else -2.0
    if q.kind == "age":
        return 0.0 if numeric and not words & _MONTHS else -1.0
    if q.kind in _NUMERIC_KINDS:
        return 0.0 if numeric else -0.8
    return 0.0


_NOUNS = frozenset({"NOUN", "PROPN"})
MAX_COORDINATED_WORDS = 10


def within(doc, start: int, end: int) -> list:
    """The tokens of `doc` that lie within the character offsets [start, end)."""
    return [t for t in doc if t.idx >= start and t.idx + len(t.text) <= end]


def roots(tokens: list) -> list:
    """Those of `tokens` whose head lies outside them (the phrase's root, if they form one phrase)."""
    return [t for t in tokens if t.head not in tokens or t.head.i == t.i]


def coordinated(doc, start: int, end: int) -> tuple[int, int]:
    """The answer `doc.text[start:end]` widened to the whole coordination it is part of: "Sunita Rao"
    in "Alan Pike and Sunita Rao voted against", "the council" in "brokered by the council and tribal
    elders". Half of "who did it" is a wrong answer shown as a right one. Offsets are unchanged where
    the answer is no noun of a coordination of nouns, or the whole would be longer than
    MAX_COORDINATED_WORDS."""
    inside = [t for t in within(doc, start, end) if not t.is_punct]
    heads = roots(inside)
    if len(heads) != 1 or heads[0].pos_ not in _NOUNS:
        return start, end
    first = heads[0]
    while first.dep_ == "conj" and first.head.pos_ in _NOUNS and first.head.i != first.i:
        first = first.head
    members = [first]
    for member in members:  # each conjunct's own conjuncts, in order
        members.extend(c for c in member.children if c.dep_ == "conj")
    if len(members) < 2 or any(m.pos_ not in _NOUNS for m in members):
        return start, end
    own = [np_span(m) for m in members]  # each conjunct's phrase, without clauses
    i = min(min(span[0] for span in own), inside[0].i)
    j = max(max(span[1] for span in own), inside[-1].i)
    if j - i + 1 > MAX_COORDINATED_WORDS:
        return start, end
    return doc[i].idx, doc[j].idx + len(doc[j].text)


_PLACES = frozenset({"GPE", "LOC", "FAC"})
_NOT_PLACES = frozenset({"DATE", "TIME", "PERSON", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY"})
_PLACE_PREPOSITIONS = frozenset("in at to from into onto near toward towards across outside inside within on through "
                                "around along between beyond under over off via throughout".split())


def names_a_place(doc, start: int, end: int) -> bool:
    """Can `doc.text[start:end]` answer "where?": it holds a place name (GPE, LOC, FAC), or it is the
    object of a preposition of place ("at the town hall") and not a date, time, person or number.
    "Where did the fighters go?" was answered "Dillon", the subject of "Dillon said"."""
    inside = within(doc, start, end)
    if not inside:
        return False
    if any(t.ent_type_ in _PLACES for t in inside):
        return True
    root = next(iter(roots(inside)), inside[0])
    if root.ent_type_ in _NOT_PLACES:
        return False
    return root.dep_ == "pobj" and root.head.lower_ in _PLACE_PREPOSITIONS


def whole_name(doc, start: int, end: int) -> tuple[int, int]:
    """The answer widened over the capitalised proper nouns right after it: "Islamic" of "between
    Islamic State and tribal elders", where the parse cut the name, becomes "Islamic State". Not
    leftwards: "Tomas Reid" would become "Mayor Tomas Reid"."""
    inside = within(doc, start, end)
    if not inside:
        return start, end
    i, j = inside[0].i, inside[-1].i

    def name_word(t) -> bool:
        return t.pos_ == "PROPN" and t.text[:1].isupper()

    if doc[j].text[:1].isupper():
        while j + 1 < len(doc) and name_word(doc[j + 1]):
            j += 1
    return doc[i].idx, doc[j].idx + len(doc[j].text)


def only_a_person(doc, start: int, end: int) -> bool:
    """`doc.text[start:end]` is a person's name and nothing else: no answer to "What did the judge say
    about the river?" ("Helen Marsh") or "What will the association ask the company to do?"."""
    inside = [t for t in within(doc, start, end) if not t.is_punct]
    return bool(inside) and all(t.ent_type_ == "PERSON" for t in inside)


HE_OR_SHE = frozenset("he she".split())


def pronoun_speaker(doc, verbs: frozenset[str]) -> bool:
    """The sentence quotes someone only as "he" or "she" ("This is the final battle, he said."): the
    speaker is named in an earlier sentence."""
    return any(t.lower_ in HE_OR_SHE and t.dep_ == "nsubj" and t.head.lemma_.lower() in verbs for t in doc)


def last_person(doc) -> tuple[int, int] | None:
    """Offsets of the last person the sentence names, the one a following "he said" most likely means."""
    people = [e for e in doc.ents if e.label_ == "PERSON"]
    return (people[-1].start_char, people[-1].end_char) if people else None


_LEADING = frozenset("of at in by from for with on".split())  # not "up (to)", "over", "about": they say how much


def measured(doc, start: int, end: int) -> tuple[int, int]:
    """The answer to a how high/far/long/old question: without a leading preposition ("of up to nine
    metres" becomes "up to nine metres"), and a bare number widened over its unit ("nine" becomes
    "nine metres", "45" of "45 years old" "45 years"). A measure without its unit says nothing.
    Unchanged where the answer holds more than a number, or no noun it counts follows it."""
    inside = [t for t in within(doc, start, end) if not t.is_punct]
    while len(inside) > 1 and inside[0].lower_ in _LEADING:
        inside = inside[1:]
    if not inside:
        return start, end
    start = max(start, inside[0].idx)
    if not all(t.like_num or t.pos_ == "NUM" or t.dep_ == "quantmod" for t in inside):
        return start, end
    last = inside[-1]
    unit = last.head if last.dep_ == "nummod" else None
    if unit is None or unit.i != last.i + 1 or unit.pos_ != "NOUN":
        return start, end
    return start, unit.idx + len(unit.text)


_SCALE_AFTER = re.compile(r"(?:\s*(?:thousand|million|billion|trillion|bn|mn)\b)?(?:\s*(?:%|percent\b|per cent\b|"
                          rf"(?:(?:US|Hong Kong|Canadian|Australian|New Zealand)\s+)?{CURRENCY}\b))?", re.I)


def with_scale(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A bare number widened over the scale and currency the sentence gives it: "95" of "a profit of
    95 million a year earlier" becomes "95 million", "340" of "$340 million" "$340 million". A
    number that already has them, or a span that does not end in a digit, is unchanged."""
    if not re.search(r"\d$", sentence[start:end]):
        return start, end
    tail = _SCALE_AFTER.match(sentence, end)
    if tail and tail.end() > end:
        end = tail.end()
    if start > 0 and sentence[start - 1] in "$€£¥":
        start -= 1
    return start, end


def subject_nouns(doc) -> list[str]:
    """The common nouns of the subject of the sentence that asks "how" or "what" (the question proper, not a
    quiz's lead-in), as written: "campaign" of "How much did the campaign cost?", "terminal" of "What will
    the ferry terminal cost?". Only the subject:
    nouns elsewhere are often context ("as Scotland's first minister") that the answer's sentence
    need not repeat; and not a subject holding "how many" itself ("how many minutes of exercise")."""
    asking = next((t for t in doc if t.lower_ == "how"), None) or next((t for t in doc if t.lower_ == "what"), None)
    if asking is None:
        return []
    root = asking.sent.root
    subjects = [t for t in root.children if t.dep_ in ("nsubj", "nsubjpass")]
    if subjects:
        return [w.text for t in subjects if not any(w.lower_ == "how" for w in t.subtree)
                for w in t.subtree if w.pos_ == "NOUN"]
    # "How much did the campaign cost?" parses as one noun phrase, "the campaign cost", with "did" as
    # its auxiliary: the subject is then the root's compound nouns
    if not any(c.dep_ == "aux" for c in root.children):
        return []
    return [c.text for c in root.children if c.dep_ == "compound" and c.pos_ == "NOUN"]
