"""Answer spans by dependency pattern: the question's wh-role mapped onto the matching verb of a
parsed sentence ("Who brokered the deal?" -> the agent of "was brokered by ..."), plus the
copula, say/do, why and how patterns. Spans are token ranges (i, j), both ends included.
"""

from __future__ import annotations

from assistant.answering.extractive.question import SPEECH, Question, asks_a_deed, verb_stems
from assistant.answering.extractive.text import stem

_DROP_FROM_NP = frozenset({"relcl", "acl", "appos", "advcl", "parataxis"})


def np_span(tok) -> tuple[int, int]:
    """Token range [i, j] of a noun phrase: the subtree minus clauses and appositions."""
    members: set[int] = set()
    stack = [tok]
    while stack:  # the subtree, not entering a dropped clause: one visit a token (the set difference
        t = stack.pop()  # of subtrees took 33 ms on a long, deeply nested sentence)
        members.add(t.i)
        stack.extend(c for c in t.children if c.dep_ not in _DROP_FROM_NP)
    i = j = tok.i
    while i - 1 in members:
        i -= 1
    while j + 1 in members:
        j += 1
    doc = tok.doc
    while i < j and (doc[i].is_punct or doc[i].dep_ in ("cc", "prep", "mark")):
        i += 1
    while j > i and (doc[j].is_punct or doc[j].dep_ in ("cc", "prep", "case")):
        j -= 1
    return i, j


def _verbs_matching(q: Question, doc) -> list:
    if not q.verb or q.verb in ("be", "do", "have"):
        return []
    want = {q.verb, stem(q.verb)}
    return [t for t in doc if t.pos_ in ("VERB", "AUX", "NOUN") and (t.lemma_.lower() in want or stem(t.text) in want)]


def _is_passive(verb) -> bool:
    return any(c.dep_ in ("nsubjpass", "auxpass", "agent") for c in verb.children)


def _subject(verb):
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass"):
            return c
    if verb.dep_ in ("conj", "xcomp", "advcl") and verb.head.i != verb.i:
        return _subject(verb.head)
    return None


def pattern_spans(q: Question, doc) -> list[tuple[int, int, float]]:
    """(i, j, bonus) token ranges that answer the question by dependency pattern."""
    out: list[tuple[int, int, float]] = []
    if q.role == "copula" or (q.kind in ("who", "what") and q.role is None and q.target):
        out.extend(_copula_spans(q, doc))
    verbs = _verbs_matching(q, doc)
    if q.role == "agent":
        verbs = _clauses_of_the_object(q, verbs)
    for v in verbs:
        passive = _is_passive(v)
        if q.role == "agent":
            if passive:
                for c in v.children:
                    if c.dep_ == "agent":
                        for pobj in c.children:
                            if pobj.dep_ == "pobj":
                                out.append((*np_span(pobj), 1.6))
            else:
                subj = _subject(v)
                if subj is not None and subj.dep_ == "nsubj":
                    out.append((*np_span(subj), 1.6))
        elif q.role == "patient":
            if passive:
                subj = _subject(v)
                if subj is not None:
                    out.append((*np_span(subj), 1.4))
            for c in v.children:
                if c.dep_ in ("dobj", "attr", "oprd"):
                    out.append((*np_span(c), 1.4))
        elif q.role and q.role.startswith("prep:"):
            p = q.role[5:]
            for c in v.children:
                if c.dep_ in ("prep", "dative") and c.lower_ == p:
                    for pobj in c.children:
                        if pobj.dep_ == "pobj":
                            out.append((*np_span(pobj), 1.4))
        elif q.role == "say":
            for c in v.children:
                if c.dep_ in ("ccomp", "dobj") and c.i != v.i:
                    i, j = c.left_edge.i, c.right_edge.i
                    out.append((*trim(doc, i, j), 1.0))
        elif q.labels:
            # "When did the SDF launch ...": a typed entity attached to the matching verb
            for ei, ej, label in entities(doc):
                if label in q.labels and _attached(doc[ei:ej + 1].root, v):
                    out.append((ei, ej, 0.8))
    if q.role == "do" and q.target:
        out.extend(_predicate_spans(q, doc))
    if q.kind == "why":
        out.extend(_reason_spans(doc, verbs))
    if q.kind == "how":
        out.extend(_manner_spans(doc, verbs))
    return out


def _object_stems(verb) -> set[str]:
    return {stem(t.text) for c in verb.children if c.dep_ in ("dobj", "dative")
            for t in c.subtree if t.is_alpha and not t.is_stop}


def _clauses_of_the_object(q: Question, verbs: list) -> list:
    """For "Who advised SolarCrest?" over "Goldman Sachs advised Northvale, and Santander advised
    SolarCrest": where one clause of the verb has an object the question names, drop the clauses whose
    object it does not name. Verbs without an object, and sentences where no object matches, stay."""
    asked = set(q.terms) - {q.verb, stem(q.verb or "")}
    objects = {v.i: _object_stems(v) for v in verbs if not _is_passive(v)}
    active = [v for v in verbs if objects.get(v.i)]
    if len(active) < 2 or not any(objects[v.i] & asked for v in active):
        return verbs
    return [v for v in verbs if v not in active or objects[v.i] & asked]


def agent_of_another_clause(q: Question, doc, start: int, end: int) -> tuple[int, int] | None:
    """Character offsets of the agent the question asks for, where the span [start, end) of `doc` is
    the subject of another clause of the same verb ("Goldman Sachs" of "Goldman Sachs advised
    Northvale, and Santander advised SolarCrest" for "Who advised SolarCrest?"); else None."""
    if q.kind != "who" or q.role != "agent":
        return None
    verbs = _verbs_matching(q, doc)
    kept = _clauses_of_the_object(q, verbs)
    if len(kept) == len(verbs):
        return None

    def subject_span(v) -> tuple[int, int] | None:
        subj = _subject(v)
        if subj is None or subj.dep_ != "nsubj":
            return None
        i, j = np_span(subj)
        return doc[i].idx, doc[j].idx + len(doc[j])

    dropped = [span for v in verbs if v not in kept and (span := subject_span(v))]
    if not any(s < end and start < e for s, e in dropped):
        return None
    return next((span for v in kept if (span := subject_span(v))), None)


def deed_told(q: Question, doc) -> bool:
    """For "who did it?" (a deed, not speech nor a general verb): whether the sentence says the deed."""
    return asks_a_deed(q) and any(stem(t.text) in verb_stems(q.verb) for t in doc)


def speaks_of_the_deed(q: Question, token) -> bool:
    """The token is the subject of a speaking verb whose words, not the token's own phrase, tell the deed
    asked: "Mercer" of "Daniel Mercer said the fire was caused by a power line" for "Who caused the fire?",
    not "Quinn" of "Sarah Quinn, who led the investigation, said ..." for "Who led the investigation?"."""
    if token.dep_ != "nsubj" or token.head.lemma_.lower() not in SPEECH or not q.verb:
        return False
    own = {t.i for t in token.subtree}
    deed = verb_stems(q.verb)
    return any(t.i not in own and stem(t.text) in deed for t in token.head.subtree)


def speaker_of_the_deed(q: Question, doc, start: int, end: int) -> bool:
    """For "who did it?": True when the answer `doc.text[start:end]` only says that it was done ("Daniel
    Mercer" of "Fire chief Daniel Mercer said the fire was probably caused by a power line" for "Who caused
    the fire?"). `q` must carry its parse (`apply_parse`)."""
    span = doc.char_span(start, end, alignment_mode="expand")
    return span is not None and deed_told(q, doc) and speaks_of_the_deed(q, span.root)


def deed_without_doer(q: Question, doc) -> bool:
    """For "who did it?": True when the sentence says the deed only without a doer, so the people and places
    it names did something else: "Halden Ales, founded in 1871, employs 310 people at its site in Carrick"
    for "Who founded Halden Ales?". A doer is the subject of an active verb or the "by" of a passive; a
    sentence naming the doer's noun ("the club's founder") is not judged."""
    if not asks_a_deed(q):
        return False
    said = _verbs_matching(q, doc)
    verbs = [v for v in said if v.pos_ == "VERB"]
    if not verbs or len(verbs) < len(said):
        return False

    def doer(v) -> bool:
        subject = _subject(v)
        return (subject is not None and subject.dep_ == "nsubj") or any(c.dep_ == "agent" for c in v.children)

    return not any(doer(v) for v in verbs)


def _attached(tok, verb, hops: int = 3) -> bool:
    for _ in range(hops):
        if tok.head.i == tok.i:
            return False
        tok = tok.head
        if tok.i == verb.i:
            return True
        if tok.pos_ in ("VERB", "AUX"):
            return False
    return False


def _predicate_spans(q: Question, doc) -> list[tuple[int, int, float]]:
    """'What did X do?': what follows X's verb, X and clauses aside."""
    target = set(q.target)
    out = []
    for t in doc:
        if t.dep_ == "nsubj" and stem(t.text) in target and t.head.pos_ == "VERB":
            v = t.head
            j = max([v.i] + [c.right_edge.i for c in v.children if c.i > v.i and c.dep_ not in ("punct", "cc", "conj", "advcl")])
            out.append((*trim(doc, v.i, j), 1.2))
    return out


_PURPOSE = frozenset("to because since so as".split())


def _reason_spans(doc, verbs: list) -> list[tuple[int, int, float]]:
    """'Why': purpose infinitives and because-clauses, preferring those of the question's verb."""
    out = []
    heads = set(verbs)
    for t in doc:
        if t.dep_ in ("advcl", "xcomp", "ccomp", "acl") and any(
            g.dep_ in ("aux", "mark") and g.lower_ in _PURPOSE for g in t.children
        ):
            i, j = trim(doc, t.left_edge.i, t.right_edge.i)
            out.append((i, j, 1.4 if t.head in heads else 0.9))
        elif t.dep_ == "prep" and t.lower_ in ("because", "due"):
            i, j = trim(doc, t.i, t.right_edge.i)
            out.append((i, j, 1.2 if t.head in heads else 0.9))
    return out


def _manner_spans(doc, verbs: list) -> list[tuple[int, int, float]]:
    """'How': by/through/via phrases, preferring those of the question's verb."""
    out = []
    heads = set(verbs)
    for t in doc:
        if t.dep_ == "prep" and t.lower_ in ("by", "through", "via"):
            i, j = trim(doc, t.i, t.right_edge.i)
            out.append((i, j, 1.2 if t.head in heads else 0.8))
    return out


def trim(doc, i: int, j: int) -> tuple[int, int]:
    while i < j and (doc[i].is_punct or doc[i].dep_ == "cc"):
        i += 1
    while j > i and doc[j].is_punct:
        j -= 1
    return i, j


def _copula_spans(q: Question, doc) -> list[tuple[int, int, float]]:
    """'Who is X?': X's apposition, the title before X, or the other side of 'X is Y'."""
    target = set(q.target)
    if not target:
        return []
    out: list[tuple[int, int, float]] = []
    hits = [t for t in doc if stem(t.text) in target]
    heads = [t for t in hits if not (t.head in hits and t.dep_ in ("compound", "amod", "flat"))]
    for h in heads:
        x_tokens = {t.i for t in h.subtree if stem(t.text) in target}
        x_lo = min(x_tokens | {h.i})
        for c in h.children:
            if c.dep_ == "appos":
                out.append((*np_span(c), 1.6))
        mods = [c for c in h.children if c.dep_ in ("compound", "amod", "nmod") and c.i < x_lo and c.i not in x_tokens]
        if mods:
            i = min(m.left_edge.i for m in mods)
            while i < x_lo and doc[i].dep_ == "det":
                i += 1
            if i < x_lo:
                out.append((i, x_lo - 1, 1.3))
        if h.dep_ == "appos" and h.head.pos_ in ("NOUN", "PROPN"):
            out.append((*np_span(h.head), 1.5))
        if h.dep_ in ("nsubj", "attr") and h.head.lemma_ == "be":
            for c in h.head.children:
                if c.dep_ in ("attr", "nsubj", "acomp") and c is not h:
                    out.append((*np_span(c), 1.5))
    return out


_SCALES = frozenset("thousand million billion trillion".split())


def entities(doc) -> list[tuple[int, int, str]]:
    """Entities as (first, last, label) token indices, cut where the NER ran past a preposition
    that attaches outside the entity ("June 6 after a months-long" -> "June 6"). A bare "12 million"
    counts as money in a sentence that names a sum of money."""
    out = []
    money = any(ent.label_ == "MONEY" for ent in doc.ents)
    for ent in doc.ents:
        i, j = ent.start, ent.end - 1
        label = ent.label_
        if label == "CARDINAL" and money and ent[-1].lower_ in _SCALES:
            label = "MONEY"  # "cost 18.5 million dollars, of which the government will pay 12 million": both are money
        for t in ent[1:]:
            if t.dep_ == "prep" and not (ent.start <= t.head.i < ent.end):
                j = t.i - 1
                break
        while j > i and (doc[j].is_punct or doc[j].dep_ in ("cc", "case")):
            j -= 1
        out.append((i, j, label))
    return out
