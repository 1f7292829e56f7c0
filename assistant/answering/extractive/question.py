"""Question analysis: what kind of answer a question wants, from its wording and then its parse.

The wording alone gives the answer type (who -> PERSON/ORG, "how many" -> a count, "which team" ->
an organisation); the dependency parse then gives the question's verb and the wh-word's role in it
("Who brokered the deal?" asks for the agent of "broker"), which `patterns.py` maps onto sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answering.extractive.text import STOP, content_stems, question_parts, stem, term_weight, tokens

_LEAD_W = 0.5  # weight of quiz-style lead-in sentences before the question proper
# Weight of a role noun in a who-question ("Who is the mayor of Port Elwyn?"): the answer's sentence
# names the role ("Mayor Tomas Reid thanked ..."), while the place often fills the headline too.
ROLE_W = 3.0

_WHO = {"PERSON": 1.0, "ORG": 0.8, "NORP": 0.6, "GPE": 0.3}
_WHEN = {"DATE": 1.0, "TIME": 0.9}
_WHERE = {"GPE": 1.0, "LOC": 1.0, "FAC": 0.9, "ORG": 0.4}
_COUNT = {"CARDINAL": 1.0, "QUANTITY": 0.8, "MONEY": 0.5, "PERCENT": 0.5, "DATE": 0.2}
_AMOUNT = {"MONEY": 1.0, "PERCENT": 0.9, "QUANTITY": 0.9, "CARDINAL": 0.6}
_DURATION = {"DATE": 1.0, "TIME": 1.0, "QUANTITY": 0.6, "CARDINAL": 0.4}
_AGE = {"CARDINAL": 1.0, "DATE": 0.8}
_MEASURE = {"QUANTITY": 1.0, "CARDINAL": 0.6, "MONEY": 0.3, "PERCENT": 0.3}
_PLACE = {"GPE": 1.0, "LOC": 0.9, "FAC": 0.5}
_ORGS = {"ORG": 1.0, "NORP": 0.4, "PERSON": 0.3}
_FACILITY = {"FAC": 1.0, "ORG": 0.7, "GPE": 0.5, "LOC": 0.5}

# Answer types implied by the noun a question asks about ("which team", "what year").
_FOCUS_LABELS: dict[str, dict[str, float]] = {}
_PERSON_NOUNS = (
    "person man woman player actor actress singer president leader king queen minister author "
    "writer artist director celebrity star superstar rapper scientist coach ceo founder "
    "spokesman spokeswoman spokesperson chairman governor senator mayor candidate pope prince "
    "princess musician comedian host officer general commander judge lawyer athlete chef "
    "billionaire figure inventor architect composer poet painter philosopher emperor ruler "
    "explorer politician presenter footballer republican democrat lawmaker legislator activist "
    "executive entrepreneur businessman businesswoman journalist reporter anchor councillor "
    "councilor chancellor chief secretary ambassador manager"
)
_ROLES = frozenset(stem(w) for w in _PERSON_NOUNS.split())
for _words, _labels in (
    (_PERSON_NOUNS, {"PERSON": 1.0, "ORG": 0.3}),
    (
        "company firm team club organization organisation group party agency airline brand band "
        "network university school college bank chain retailer newspaper magazine channel "
        "broadcaster manufacturer automaker carmaker startup league ministry department union "
        "institution corporation business store supermarket publisher studio label operator "
        "government army",
        _ORGS,
    ),
    (
        "country nation state city town village province region county capital continent island "
        "place location area district neighborhood neighbourhood territory port",
        _PLACE,
    ),
    ("river mountain lake sea ocean desert valley", {"LOC": 1.0, "GPE": 0.5}),
    (
        "building stadium venue airport bridge arena museum hospital hotel station theater "
        "theatre palace cathedral church prison",
        _FACILITY,
    ),
    ("year decade century date month day era period season", _WHEN),
    ("time hour", {"TIME": 1.0, "DATE": 0.8}),
    ("age", _AGE),
    ("language", {"LANGUAGE": 1.0, "NORP": 0.6}),
    ("nationality religion ethnicity", {"NORP": 1.0}),
    ("percentage percent share proportion rate", {"PERCENT": 1.0, "CARDINAL": 0.4}),
    ("price cost amount sum fee salary budget value worth fine", {"MONEY": 1.0, "CARDINAL": 0.4}),
    ("number population total count score point goal seat vote magnitude", {"CARDINAL": 1.0, "QUANTITY": 0.6}),
    ("distance height length weight size speed temperature", _MEASURE),
    ("law act bill treaty", {"LAW": 1.0}),
    ("event war battle tournament festival championship olympics", {"EVENT": 1.0}),
    (
        "book film movie show series song album novel play painting sitcom ballad musical opera "
        "poem documentary",
        {"WORK_OF_ART": 1.0},
    ),
    ("product drink car phone device app chatbot vehicle aircraft plane ship", {"PRODUCT": 1.0, "ORG": 0.4}),
):
    for _w in _words.split():
        _FOCUS_LABELS[stem(_w)] = _labels

_HOW_ADJ = {
    "many": ("count", _COUNT),
    "much": ("amount", _AMOUNT),
    "long": ("duration", _DURATION),
    "old": ("age", _AGE),
    "often": ("duration", {"DATE": 1.0, "TIME": 0.8, "CARDINAL": 0.4}),
    "far": ("measure", _MEASURE),
    "tall": ("measure", _MEASURE),
    "high": ("measure", _MEASURE),
    "big": ("measure", _MEASURE),
    "large": ("measure", _MEASURE),
    "deep": ("measure", _MEASURE),
    "wide": ("measure", _MEASURE),
    "fast": ("measure", _MEASURE),
    "heavy": ("measure", _MEASURE),
}

# Fill-in questions ending in a colon: the last word hints at the answer type.
_LEAD_IN = {
    "since": _WHEN, "until": _WHEN, "before": _WHEN, "after": _WHEN, "during": _WHEN, "on": _WHEN,
    "by": {"PERSON": 1.0, "ORG": 0.8},
    "titled": {"WORK_OF_ART": 1.0}, "called": {"WORK_OF_ART": 0.6, "ORG": 0.5, "PRODUCT": 0.5},
    "in": {"GPE": 0.8, "DATE": 0.8, "LOC": 0.6}, "at": {"FAC": 0.8, "GPE": 0.6, "ORG": 0.5},
}
_WH_RE = re.compile(r"\b(who|whom|whose|when|where|why|how|which|what)\b", re.I)
_AUX_START = re.compile(
    r"^(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might)\b", re.I
)
# "What is X paying for Y?", "What did it cost?": the verb asks a sum. Not "What did they spend it on?",
# whose stranded preposition asks a thing, nor "What was the agency charged with doing?".
_WHAT_PAID = re.compile(r"^\W*what\s+(?:is|are|was|were|will|would|did|does|do|has|have|had)\s+(?:(?!that\b|which\b|who\b)[\w.'&-]+\s+){0,4}?"
                        r"(?<!the )(?<!a )(?<!an )(?<!its )(?<!their )(?:pay|pays|paying|paid|spend|spends|spending|spent|cost|costs|costing|charge|charges|charging|"
                        r"charged)\b(?!\s+with\b)(?!.*\b(?:on|with|in|into|for|to|about|at)\W*$)")
MEASURES = frozenset({"measure", "duration", "age"})  # kinds whose answer is a number with its unit
SPEECH = frozenset("say tell announce claim state add warn argue insist explain write report".split())


@dataclass
class Question:
    text: str
    terms: dict[str, float]  # stem -> weight
    bigrams: set[tuple[str, str]]
    kind: str  # who/when/where/count/amount/.../which/what/why/how/yesno/blank
    labels: dict[str, float]  # NER labels that fit the answer, with weights
    wants_short: bool
    focus: str | None = None  # stem of the noun asked about ("which team" -> "team")
    verb: str | None = None  # lemma of the question's main verb
    role: str | None = None  # agent/patient/prep:<p>/copula/say/do/adverbial
    target: list[str] = field(default_factory=list)  # stems of X in "who is X" / "what did X say"


def _question_terms(text: str) -> tuple[dict[str, float], set[tuple[str, str]]]:
    terms: dict[str, float] = {}
    seq: list[str] = []
    parts = question_parts(text)
    for k, part in enumerate(parts):
        # Quiz-style lead-in sentences ("X died this week. Which team ...?") count for less.
        scale = 1.0 if k == len(parts) - 1 else _LEAD_W
        for i, tok in enumerate(tokens(part)):
            if tok.lower() in STOP:
                seq.append("")
                continue
            st = stem(tok)
            terms[st] = max(terms.get(st, 0.0), scale * term_weight(tok, first=i == 0))
            seq.append(st)
    bigrams = {(a, b) for a, b in zip(seq, seq[1:]) if a and b}
    return terms, bigrams


def _question_wh(low: str):
    """The wh-word that asks, not one opening a relative clause ("The balloon, which officials
    said ..., was shot down off which state?"): skip those right after a comma."""
    matches = list(_WH_RE.finditer(low))
    asking = [m for m in matches if not low[: m.start()].rstrip().endswith(",")]
    return (asking or matches or [None])[0]


def _is_relative(tok) -> bool:
    """A relative pronoun (", which officials said"), as opposed to the question's own wh-word."""
    if tok.i > 0 and tok.doc[tok.i - 1].text == ",":
        return True
    head = tok.head.head if tok.dep_ in ("det", "poss") else tok.head
    return head.dep_ == "relcl" or tok.head.dep_ == "relcl"


def _classify(text: str) -> tuple[str, dict[str, float], bool, str | None]:
    """Answer type from the wording alone: (kind, labels, wants_short, focus stem)."""
    clause = text.strip()
    # Quiz-style questions put context first: type the last sentence that holds a wh-word.
    parts = re.split(r"(?<=[.!?])\s+", clause)
    for part in reversed(parts):
        if _WH_RE.search(part) or "__" in part:
            clause = part
            break
    low = clause.lower()
    if "__" in low:
        after = low.split("__", 1)[1].lstrip("_")
        if after.startswith("%"):
            return "blank", {"PERCENT": 1.0}, True, None
        return "blank", {}, True, None
    m = _question_wh(low)
    if not m:
        if _AUX_START.match(low) or low.startswith("true or false") or low.endswith("true or false?"):
            return "yesno", {}, False, None
        if low.rstrip().endswith(":"):  # quiz style: "... previously held by:"
            last = re.findall(r"[a-z]+", low)[-1:] or [""]
            return "what", dict(_LEAD_IN.get(last[0], {})), True, None
        return "what", {}, True, None
    wh = m.group(1)
    rest = low[m.end():].split()
    nxt = re.sub(r"\W", "", rest[0]) if rest else ""
    if wh in ("who", "whom", "whose"):
        return "who", dict(_WHO), True, None
    if wh == "when":
        return "when", dict(_WHEN), True, None
    if wh == "where":
        return "where", dict(_WHERE), True, None
    if wh == "why":
        return "why", {}, True, None
    if wh == "how":
        if nxt in _HOW_ADJ:
            kind, labels = _HOW_ADJ[nxt]
            focus = None
            if kind in ("count", "amount") and len(rest) > 1:
                focus = _first_noun_stem(rest[1:])
                if kind == "amount" and focus in _FOCUS_LABELS:
                    labels = _FOCUS_LABELS[focus]
            return kind, dict(labels), True, focus
        return "how", {}, True, None
    # which / what
    focus = _first_noun_stem(rest)
    if focus and focus in _FOCUS_LABELS:
        return "which", dict(_FOCUS_LABELS[focus]), True, focus
    if wh == "what" and asks_paid(low):  # "What is Northvale paying for SolarCrest?": a sum
        return "amount", dict(_FOCUS_LABELS[stem("price")]), True, None
    return ("which" if wh == "which" else "what"), {}, True, focus


_NON_NOUN = STOP | frozenset("kind type sort".split())


def _first_noun_stem(words: list[str]) -> str | None:
    """The focus noun after which/what: the last word of the first run of non-function words."""
    run: list[str] = []
    for w in words[:5]:
        w = re.sub(r"[^\w-]", "", w)
        if run and w.endswith(("ed", "ing")):
            break  # "what conviction motivated ...": the run of nouns ends at the verb
        if not w or w in _NON_NOUN:
            if run:
                break
            if w in ("of", "kind", "type", "sort", "a", "an", "the", "these", "those", "following"):
                continue
            return None
        run.append(w)
        if len(run) == 3:
            break
    if not run:
        return None
    # "which team" / "what US state": the head is the last word unless it is clearly a verb
    for w in reversed(run):
        if not (w.endswith("ed") or w.endswith("ing")):
            return stem(w)
    return stem(run[-1])


def analyse_question(text: str, role_weight: float = ROLE_W) -> Question:
    terms, bigrams = _question_terms(text)
    kind, labels, wants_short, focus = _classify(text)
    q = Question(text, terms, bigrams, kind, labels, wants_short)
    _set_focus(q, focus)
    if kind == "who":
        for t in q.terms:
            if t in _ROLES:
                q.terms[t] = max(q.terms[t], role_weight)
    return q


_ROLE_ASKED = re.compile(r"^\s*who\s+(?:is|was|will\s+be|has\s+been)\s+the\s+(?:[\w-]+\s+){0,2}?([\w-]+)\s+(?:of|for|at|in)\b", re.I)


_SPEAKING = re.compile(r"\b(?:say|says|said|saying|tell|tells|told|announc\w*|claim\w*|stated|statement|add|adds|added|"
                       r"warn\w*|argu\w*|insist\w*|explain\w*|wr(?:ote|ites?|itten)|report\w*|quoted?|according to)\b", re.I)
_ASKS_SPEAKER = re.compile(r"^\s*who\s+(?:said|says|told|tells|announced|claimed|stated|added|warned|argued|insisted|explained|wrote)\b", re.I)


def asks_paid(question: str) -> bool:
    """"What is Northvale paying for SolarCrest?", "What did the terminal cost?": a sum, asked by its verb."""
    return bool(_WHAT_PAID.search(question.lower()))


def asks_speaker(question: str) -> bool:
    """"Who said ...?", "Who told ...?": the answer is someone speaking."""
    return bool(_ASKS_SPEAKER.match(question))


def speaks(sentence: str) -> bool:
    """The sentence has someone speak or write ("said", "told", "according to")."""
    return bool(_SPEAKING.search(sentence))


def asked_role_said(q: Question, stems: list[str]) -> bool:
    """False when the question asks who holds a role ("Who is the mayor of Port Ellis?") and the
    sentence `stems` does not name that role: the person it names holds some other. True for other
    questions ("Who was a man studying ...?", "Who was the first player in ... to ...?")."""
    match = _ROLE_ASKED.match(q.text)
    role = stem(match.group(1)) if match else None
    return role not in _ROLES or role in stems


# Verbs too general to say what was done: "Who is ...", "Who has ...", "Who got ..."
GENERAL_VERBS = frozenset("be have do get make take go come become give keep put let see".split())


def asks_a_deed(q: Question) -> bool:
    """Whether the question asks who did something ("Who owns Harlow United?"): speaking verbs are the
    speaker checks', general verbs ("Who is ...", "Who got ...") say too little."""
    return q.kind == "who" and q.role == "agent" and bool(q.verb) and q.verb not in GENERAL_VERBS and q.verb not in SPEECH


def asked_deed_said(q: Question, stems: list[str]) -> bool:
    """False when the question asks who did something (`asks_a_deed`: "Who owns Harlow United?", "Who
    founded Halden Ales?") and the sentence `stems` does not say it was done: the person it names did
    something else ("Tomas Reyes", signed by the club; "Helen Marsh", the judge). The doer's noun
    counts ("the club's owner")."""
    if not asks_a_deed(q):
        return True
    return bool(verb_stems(q.verb) & set(stems))


def verb_stems(lemma: str) -> set[str]:
    """The stems a verb's forms take: the lemma "found" is no "find" ("founds" is not irregular)."""
    return {stem(lemma), stem(lemma + "s")}


def _set_focus(q: Question, focus: str | None) -> None:
    """The focus noun rarely appears next to the answer, so it weighs little; it may type the answer."""
    if q.focus == focus:
        return
    if q.focus:
        q.terms, _ = _question_terms(q.text)
    q.focus = focus
    if focus and focus in q.terms:
        q.terms[focus] = 0.5
    if q.kind in ("which", "what"):
        q.labels = dict(_FOCUS_LABELS.get(focus, {})) if focus else {}


def apply_parse(q: Question, doc) -> None:
    """Fill the question's verb, wh-role and target from its dependency parse."""
    whs = [t for t in doc if t.tag_ in ("WDT", "WP", "WP$", "WRB")]
    wh = next((t for t in whs if not _is_relative(t)), whs[0] if whs else None)
    if wh is None:
        root = next((t for t in doc if t.dep_ == "ROOT"), None)
        if root is not None and root.pos_ in ("VERB", "AUX"):
            q.verb = root.lemma_.lower()
        return
    phrase = wh
    if wh.lower_ == "how" and wh.head.lower_ in _HOW_ADJ and wh.head.head.pos_ in ("NOUN", "PROPN"):
        phrase = wh.head.head
    elif wh.dep_ in ("det", "poss") and wh.head.pos_ in ("NOUN", "PROPN"):
        phrase = wh.head
        if wh.lower_ in ("which", "what") and wh.head.i > wh.i:
            _set_focus(q, stem(wh.head.text))
    elif wh.lower_ == "which" and wh.dep_ == "pobj":  # parser quirk: "to which US state"
        phrase = wh
    elif wh.lower_ == "what" and wh.i + 1 < len(doc) and doc[wh.i + 1].pos_ in ("VERB", "AUX"):
        _set_focus(q, None)  # "what drove residents ...": no focus noun
    verb = phrase.head
    dep = phrase.dep_
    prep = None
    if dep == "pobj":
        prep = verb.lower_
        verb = verb.head
    hops = 0
    while verb.pos_ not in ("VERB", "AUX") and verb.head.i != verb.i and hops < 4:
        verb = verb.head
        hops += 1
    if verb.pos_ not in ("VERB", "AUX"):
        return
    q.verb = verb.lemma_.lower()
    if q.verb == "be" and phrase is wh:
        q.role = "copula"
        other = next(
            (c for c in verb.children if c.dep_ in ("nsubj", "attr") and c.i != phrase.i),
            None,
        )
        if other is not None:
            q.target = content_stems(" ".join(t.text for t in other.subtree))
            if q.kind == "what" and other.pos_ in ("NOUN", "PROPN"):
                focus = stem(other.text)
                if focus in _FOCUS_LABELS:
                    q.labels = dict(_FOCUS_LABELS[focus])
                    q.focus = focus
        return
    subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and c.i != phrase.i), None)
    if dep in ("dobj",) and wh.lower_ == "what" and phrase is wh and q.verb in SPEECH | {"do"}:
        q.role = "say" if q.verb in SPEECH else "do"
        if subj is not None:
            q.target = content_stems(" ".join(t.text for t in subj.subtree))
        return
    if prep is not None:
        q.role = "agent" if prep == "by" else f"prep:{prep}"
    elif dep == "nsubj":
        q.role = "agent"
    elif dep in ("nsubjpass", "dobj"):
        q.role = "patient"
    else:
        q.role = "adverbial"
