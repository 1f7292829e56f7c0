"""Lexical normalisation: word tokens, stop words, a light stemmer and term weights.

Lowercase, possessive "s" dropped, light suffix stemming: wire copy often arrives with its
apostrophes stripped ("Syria s Raqqa"), and ranking on these costs well under a millisecond.

Why not the libraries (measured 2026-11-29 with `python -m bench.extractive_dev`, all else equal):
snowballstemmer's English stemmer in place of `stem` gave SQuAD-2 short-answer F1 0.473 -> 0.484 but
RealTime QA F1 0.144 -> 0.134; spaCy's stop-word list for both this `STOP` and the lexical index's
`index.text.STOPWORDS` gave 0.473 -> 0.470 and 0.144 -> 0.145, confidence AUC 0.806 -> 0.795. Neither
is better on news, so both stay. The two stop lists differ on purpose: this one also drops words
that never name an answer ("one", "called", "many"), which the lexical index may still match on.
"""

import re

_WORD = re.compile(r"[^\W_]+")
# currency words, as a regular expression's group (the answer checks and the span widening share it)
CURRENCY = r"(?:dollars?|euros?|pounds?(?: sterling)?|yen|yuan|rupees?|francs?|pesos?|rand)"

STOP = frozenset(
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
LIGHT = frozenset(
    """
    say said says tell told report reported year years time times new people week weeks month months
    day days recent recently make made take took get got go went know known like include included
    use used first last two three former percent number part way well
    """.split()
)


# Irregular past forms of verbs news questions ask with: "Who bought SolarCrest?" is answered by
# "Northvale agreed to buy SolarCrest", which suffix stripping alone does not match.
_IRREGULAR = {
    form: base
    for base, forms in (
        ("buy", "bought"), ("sell", "sold"), ("pay", "paid"), ("lead", "led"), ("leave", "left"),
        ("meet", "met"), ("write", "wrote written"), ("give", "gave given"), ("find", "found"),
        ("say", "said"), ("tell", "told"), ("hold", "held"), ("keep", "kept"), ("lose", "lost"),
        ("spend", "spent"), ("send", "sent"),
        ("build", "built"), ("begin", "began begun"), ("bring", "brought"), ("catch", "caught"),
        ("choose", "chose chosen"), ("drive", "drove driven"), ("fall", "fell fallen"), ("fly", "flew flown"),
        ("grow", "grew grown"), ("rise", "rose risen"), ("run", "ran"), ("see", "saw seen"),
        ("shoot", "shot"), ("seek", "sought"), ("steal", "stole stolen"), ("strike", "struck"),
        ("think", "thought"), ("throw", "threw thrown"), ("fight", "fought"), ("freeze", "froze frozen"),
        ("hide", "hid hidden"), ("speak", "spoke spoken"), ("break", "broke broken"), ("draw", "drew drawn"),
        ("deal", "dealt"), ("mean", "meant"), ("feel", "felt"), ("flee", "fled"),
        ("become", "became"), ("come", "came"), ("withdraw", "withdrew withdrawn"), ("teach", "taught"),
        ("win", "won"), ("sing", "sang sung"), ("swear", "swore sworn"), ("wear", "wore worn"),
        ("forgive", "forgave forgiven"), ("forget", "forgot forgotten"), ("sink", "sank sunk"),
        ("shake", "shook shaken"), ("hang", "hung"), ("lend", "lent"), ("bend", "bent"), ("sleep", "slept"),
    )
    for form in forms.split()
}
# Nouns for the one who does it, where the question asks with the verb: "Who owns Harlow United?" is
# answered by "The club's owner, the investment firm Castlegate Partners". Not "leader" or "manager":
# those are titles, named in many sentences that say nothing of leading.
_AGENT = {noun + plural: base
          for noun, base in (("owner", "own"), ("founder", "found"), ("buyer", "buy"), ("seller", "sell"),
                             ("winner", "win"), ("employer", "employ"), ("investor", "invest"))
          for plural in ("", "s")}


_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")


def question_parts(text: str) -> list[str]:
    """A question's sentences: a quiz's lead-ins ("X died this week.") first, the question proper last."""
    return _SENTENCE_END.split(text.strip())


def stem(word: str) -> str:
    """A light suffix stemmer: enough to match brokered/broker, militants/militant, cities/city, the
    irregular past of common verbs (bought/buy), and a few doers to their verb (owner/owns)."""
    w = word.lower()
    w = _IRREGULAR.get(w) or _AGENT.get(w, w)
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


def tokens(text: str) -> list[str]:
    """Raw word tokens with lone possessive/contraction fragments dropped ("Syria s" -> "Syria")."""
    return [t for t in _WORD.findall(text) if t.lower() not in ("s", "t")]


def content_stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text) if t.lower() not in STOP]


def term_weight(token: str, first: bool) -> float:
    low = token.lower()
    if low in LIGHT:
        return 0.4
    if token[0].isdigit():
        return 1.6
    if token[0].isupper() and not first:
        return 1.6
    return 1.0
