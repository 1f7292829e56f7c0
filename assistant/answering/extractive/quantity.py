"""Does a number count what the question asks about?

"What is the population of Lakeview?" over "A storm cut power to about 40,000 homes in Lakeview"
was answered "40,000", confidently: the right kind of answer (a number, found verbatim in the
sentence) that counts something else. A number is checked against the question when the question
names what it counts ("how many homes", "the population of"): the words right after the number in
the sentence ("homes") must name the same thing, or, for people, any word for people. Where the
sentence names nothing after the number ("a city of 300,000.", "killed 12 on Monday"), or a proper
noun or nationality ("3,000 US troops", "12 Palestinians"), nothing is claimed either way.

A population ("how many people live in Raqqa?", "the population of") is also something a sentence has
to speak of: "more than 130 people" killed in Paris, in a sentence about Raqqa, counts people, but not
those who live there. Such a sentence must speak of living, residents or "a city of".
"""

from __future__ import annotations

import re

from assistant.answering.extractive.question import asks_paid
from assistant.answering.extractive.spans import has_number
from assistant.answering.extractive.text import CURRENCY, LIGHT, STOP, question_parts, stem, tokens

PEOPLE = frozenset(stem(w) for w in """people person persons resident inhabitant citizen population villager local
    civilian adult child children men women man woman male female boy girl voter worker employee student pupil patient soldier troop
    refugee migrant passenger fan member protester demonstrator victim casualty survivor spectator visitor tourist
    customer user subscriber staff officer player individual family families""".split())
_SAME = tuple(frozenset(stem(w) for w in words.split()) for words in (  # one thing, several words
    "home house household dwelling", "ton tonne", "metre meter", "kilometre kilometer", "litre liter"))
_SKIP = frozenset("hundred thousand million billion trillion dozen more than about some nearly almost over under "
                  "around roughly approximately least".split())
_ADJECTIVES = frozenset("new more other different separate additional total local foreign young extra".split())
_HOW_MANY = re.compile(r"\bhow many ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", re.I)
_PEOPLE_ASKED = re.compile(r"\b(population|inhabitants|residents|people)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*|\d[\d,.]*|\S")
_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                     r"forty|fifty|hundreds|thousands|millions|dozens|scores)\b", re.I)
_POPULATION_ASKED = re.compile(
    r"\bpopulation\b|\bhow many (?:people|residents|inhabitants|persons)\b.*\b(?:live|lives|lived|living|reside|resides)\b", re.I)
_POPULATION_SAID = re.compile(
    r"\b(?:population|populous|inhabitants|inhabited|residents|live|lives|lived|living|reside|resides|resided|home to|"
    r"(?:city|town|village|country|nation|state|island|district|municipality|region|community|metropolis) of)\b", re.I)
_MEASURE_ASKED = re.compile(r"\bhow (?:far|high|tall|deep|wide|long|heavy|fast|old|much)\b", re.I)
LOOK_AHEAD = 3  # words after the number that may name what it counts ("2,000 new jobs")


def _same(unit: str) -> frozenset[str]:
    return next((same for same in _SAME if unit in same), frozenset({unit}))


def asked_unit(question: str) -> frozenset[str] | None:
    """Stems of what the question counts: {"home"} for "how many homes", PEOPLE for "population"."""
    match = _HOW_MANY.search(question)
    if match:
        words = [w.lower() for w in match.groups() if w]
        if words[0] in _ADJECTIVES and len(words) > 1:
            words = words[1:]
        word = words[0]
        if word in STOP:
            return None  # "how many were killed": no noun named
        unit = stem(word)
        if unit in PEOPLE:
            return PEOPLE
        units = _same(unit)
        # "how many measles cases": a plural second word is the noun ("how many homes lost power": a verb)
        if len(words) > 1 and words[1] not in STOP and words[1].endswith("s") and not words[1].endswith("ss"):
            units |= _same(stem(words[1]))
        return units
    if re.search(r"\b(what|how large|how big)\b", question, re.I) and _PEOPLE_ASKED.search(question):
        return PEOPLE
    return None


def counts_something_else(question: str, sentence: str, start: int, end: int) -> bool:
    """True when the answer `sentence[start:end]` is, or ends in, a number followed by a word naming a
    thing other than the question's ("40,000" or "40,000 homes" for a population), or a count of people
    for a measure or an amount ("how far", "how high", "how much"). False when the answer holds no
    number, or nothing can be told."""
    unit = asked_unit(question)
    numbers = list(_NUMBER.finditer(sentence, start, end))
    measure = unit is None and bool(_MEASURE_ASKED.search(question))  # any unit but people
    if not numbers or (unit is None and not measure):
        return False
    if _POPULATION_ASKED.search(question) and not _POPULATION_SAID.search(sentence):
        return True  # "how many people live in Raqqa?" over "militants killed more than 130 people in Paris"
    named: list[str] = []
    for word in _WORD.findall(sentence[numbers[-1].end():])[: LOOK_AHEAD + 4]:
        low = word.lower()
        if not named and (low in _SKIP or low == "of" or word[0].isdigit() or word in "-–"):
            continue  # "40,000 more homes", "31.5 million dollars", "hundreds of civilians"
        if word[0].isupper():
            return False  # "3,000 US troops", "the 400 richest Americans": a name, which this cannot judge
        if not word[0].isalpha() or low in STOP:
            break  # punctuation, "in", "on": what it counts is named before here, or not at all
        named.append(stem(low))
        if len(named) == LOOK_AHEAD:
            break
    if measure:  # "how far?" or "how much did it cost?" is no count of people ("14,000 people", "two members")
        return bool(PEOPLE & set(named))
    return bool(named) and not unit & set(named)


# What befell the people a count counts: killed, hurt, driven from home, held. The question's word
# asks it (its last sentence: a quiz's lead-in may speak of deaths and ask of something else); the
# answer's sentence must speak of the same fate, in any of its words.
_FATES = tuple((re.compile(asked, re.I), re.compile(said, re.I)) for asked, said in (
    (r"\b(?:die[sd]?|dead|deaths?|killed|kill|fatalit(?:y|ies)|perished)\b",
     r"\b(?:die[sd]?|dead|deaths?|kill\w*|fatalit(?:y|ies)|perished|lives|bodies|death toll)\b"),
    (r"\b(?:injur\w*|hurt|wounded)\b", r"\b(?:injur\w*|hurt|wound\w*|hospital\w*|treated)\b"),
    (r"\b(?:evacuat\w*|displaced|fled|flee|homeless)\b",
     r"\b(?:evacu\w*|displaced|fled|flee\w*|homeless|shelters?|housed|(?:leave|left) (?:their|his|her) homes?|from (?:their|his|her) homes?)\b"),
    (r"\b(?:arrest\w*|detain\w*)\b", r"\b(?:arrest\w*|detain\w*|custody|jailed|held|charged)\b"),
))


def fate_of_something_else(question: str, sentence: str) -> bool:
    """For "how many" people died, were hurt, fled or were held: True when the answer's `sentence` does not
    speak of that fate. "How many people died in the fire?" was answered "6,200" by the reader, of
    residents "forced to leave their homes"; "How many people were evacuated?" "275", of militants who left."""
    asked = question_parts(question)[-1]
    if not _AMOUNT_ASKED.search(asked):
        return False
    return any(fate.search(asked) and not said.search(sentence) for fate, said in _FATES)


_AMOUNT_ASKED = re.compile(r"\bhow (?:much|many)\b", re.I)


def asks_amount(question: str) -> bool:
    """"How much", "how many", or a what-question whose verb asks a sum ("What will the terminal cost?")."""
    return bool(_AMOUNT_ASKED.search(question)) or asks_paid(question)


def amount_of_something_else(question: str, nouns: list[str], sentence: str) -> bool:
    """For "how much" and "how many": True when the question's subject nouns (`nouns`, from its parse)
    name something besides what it counts, and the answer's sentence names none of it. "How much did
    the campaign cost?" was answered from "... at a cost of 1.2 million dollars paid by the state",
    the cost of a county's clinics: a sum, in a sentence about something else. Names are left to the
    names check (the sentence may name them earlier), and a question that names nothing else ("How
    many people died?") is not judged."""
    if not asks_amount(question):
        return False
    counted = asked_unit(question) or frozenset()
    asked = {stem(noun) for noun in nouns if noun.lower() not in STOP and noun.lower() not in LIGHT} - counted
    return bool(asked) and not asked & {stem(word) for word in tokens(sentence)}


# Kinds of sum, by the words that name them. A sum named by a word of one kind ("new borrowing of 900
# million euros") does not answer a question asking a sum of another kind only ("how much is Northvale
# paying for SolarCrest?"). A word of no kind here, or a question of none, is not judged.
_KINDS_OF_SUM = tuple(frozenset(stem(w) for w in words.split()) for words in (
    "borrow borrowed borrowing loan loans lend lent lending debt debts credit bond bonds financing refinancing",
    "pay paid paying payment price priced buy bought buying purchase purchased sell sold selling sale deal offer "
    "bid takeover acquisition acquire acquired valuation value valued worth cost costs fee",
    "spend spent spending budget investment invest invested expenditure outlay cost costs",
    "earn earned earnings revenue revenues income profit profits sales turnover salary wage wages",
    "raise raised raising funding fund funds funded grant grants donation donations donate donated aid subsidy",
    "lose lost losing loss losses deficit shortfall damage",
    "fine fined penalty settlement damages compensation",
))
_NOUN_OF = re.compile(r"\b([A-Za-z-]+) of (?:(?:about|around|nearly|almost|roughly|some|over|under|up to|more than|"
                      r"less than|at least|an estimated|a further|another|just|only) )*$", re.I)


_SUM_ASKED = re.compile(r"\bhow much\b|\bwhat\s+(?:(?:was|is|were|are|will|be|the|a|its|their)\s+){0,3}"
                        r"(?:price|sum|amount|cost|fee|value|valuation)\b", re.I)


def sum_of_something_else(question: str, sentence: str, start: int) -> bool:
    """For "how much", "what price" (sum, amount, cost...) or "what is X paying": True when the answer `sentence[start:...]` is a sum the sentence names as one kind
    ("borrowing of 900 million euros": borrowed) while the question asks only another kind (paying).
    Northvale "will pay for it with cash and new borrowing of 900 million euros" shares more words
    with "How much is Northvale paying for SolarCrest?" than the lead sentence with the price does."""
    if not (_SUM_ASKED.search(question) or asks_paid(question)):
        return False
    named = _NOUN_OF.search(sentence[:start])
    if not named:
        return False
    kinds = [kind for kind in _KINDS_OF_SUM if stem(named.group(1).lower()) in kind]
    asked = {stem(word) for word in tokens(question)}
    return bool(kinds) and any(kind & asked for kind in _KINDS_OF_SUM) and not any(kind & asked for kind in kinds)


_MARGIN = re.compile(r"\b(?:won|wins?|winning|beat|beats|beating|beaten|defeated|defeating|led|leads?|leading|ahead|"
                     r"edged|edging|trailed|trailing|trails?|behind)\b(?:\W+\S+){0,6}?\W+by (?:(?:about|around|nearly|"
                     r"almost|roughly|some|over|under|more than|less than|at least|just|only|a|an) )*$", re.I)


def margin_for_a_total(question: str, sentence: str, start: int) -> bool:
    """For "how many" and "how much": True when the answer `sentence[start:...]` is the margin of a win
    or a lead ("beating the sitting mayor, Tom Avery, by 412 votes") and the question asks no margin
    (it has no "by"). "How many votes did Maria Castell get?" was answered "412" from the headline
    sentence; she won 9,874."""
    if not asks_amount(question) or re.search(r"\bby\b", question, re.I):
        return False
    return bool(_MARGIN.search(sentence[:start]))


_AGE_ASKED = re.compile(r"\b(?:how old|what age|at what age|(?:the|his|her|their) age)\b", re.I)
_AN_AGE = re.compile(r"(?:\d+|[a-z]+(?:-[a-z]+)?)[\s-]+years?[\s-]+old\b|\b(?:aged?|ages)\s+(?:of\s+)?\d+|"
                     r"\d+\s+years\s+of\s+age\b", re.I)


def age_of_something_else(question: str, sentence: str, start: int, end: int) -> bool:
    """For "how old": True when the answer `sentence[start:end]` is a number the sentence does not give as
    an age: an age reads "41-year-old", "41 years old", "aged 41", or stands between commas or brackets
    after a name ("Castell, 41, ..."). "How old is Maria Castell?" was answered "412 votes", her margin."""
    if not _AGE_ASKED.search(question):
        return False
    around = sentence[max(0, start - 12):end + 14]
    if _AN_AGE.search(around):
        return False
    before, after = sentence[:start].rstrip(), sentence[end:].lstrip()
    bare = re.fullmatch(r"\d{1,3}", sentence[start:end].strip())
    named = re.search(r"[A-Z][\w'.-]*\s*[,(]$", before)
    return not (bare and named and after[:1] in {",", ")"})


_PAST_WHEN = re.compile(r"^\W*when\s+(?:was|were|did|had)\b", re.I)
_DEADLINE = re.compile(r"\bby\s+(?:the\s+(?:end|middle|start|beginning)\s+of\s+)?$", re.I)
_AIMED = re.compile(r"\b(?:will|would|shall|must|should|aims?|aiming|plans?|planned|planning|expects?|expected|hopes?|"
                    r"hoped|wants?|wanted|targets?|goal|deadline|needs?|needed|promised|pledged|vowed|due|set to)\b", re.I)


def deadline_for_a_past_when(question: str, sentence: str, start: int) -> bool:
    """For a "when" asked in the past ("When was the deal announced?"): True when the answer
    `sentence[start:...]` follows "by" in a clause of aims or duties ("we need to double our solar
    output by 2030", "must approve it by May"): a deadline says when something should be done, not
    when it was. "By the 1970s, the Brotherhood had renounced violence" answers when."""
    by = _DEADLINE.search(sentence[:start])
    if not (_PAST_WHEN.search(question) and by):
        return False
    clause = re.split(r"[,;:\"“”]", sentence[:by.start()])[-1]
    return bool(_AIMED.search(clause))


def number_of_something_else(question: str, sentence: str, start: int, end: int) -> bool:
    """The number checks both answerers apply to an answer found at `sentence[start:end]`: a count of
    another thing or of people another fate befell, a sum of another kind, a winning margin for a total,
    a number that is no age for "how old", or a deadline's year for when something was done."""
    return (counts_something_else(question, sentence, start, end) or fate_of_something_else(question, sentence)
            or sum_of_something_else(question, sentence, start)
            or margin_for_a_total(question, sentence, start) or age_of_something_else(question, sentence, start, end)
            or deadline_for_a_past_when(question, sentence, start))


_HOW_LONG = re.compile(r"\bhow long\b", re.I)
_WHEN = re.compile(r"(?:^|[.!?:;]\s+)(?:(?:and|but|so)\s+)?when\b", re.I)  # a question that starts "when"
_CALENDAR = re.compile(r"\b(?:jan(?:uary)?|feb(?:ruary)?|march|april|may|june|july|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|"
                       r"nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                       r"yesterday|today|tomorrow|(?:1[5-9]|20)\d\d)\b", re.I)
_UNITS_OF_TIME = re.compile(r"\b(?:seconds?|minutes?|hours?|days?|nights?|weeks?|fortnights?|months?|years?|decades?|"
                            r"centur(?:y|ies))\b", re.I)
_SPAN_WORDS = re.compile(r"\b(?:since|until|till|through|throughout|from|between|for)\b", re.I)
_RELATIVE = re.compile(r"\b(?:ago|later|earlier|after|before|since|until|by|last|next|this|that|previous|following|"
                       r"early|late|mid|end|start|beginning|every|each|age|aged)\b", re.I)


_SUM_OR_SHARE = re.compile(rf"[$€£¥%]|\b(?:{CURRENCY}|percent|per cent)\b", re.I)


def wrong_kind_of_time(question: str, answer: str) -> bool:
    """A point in time for "how long", a span of time for "when", or a sum of money for either. "June 6"
    does not say how long the town will borrow for, nor does "900 million euros" (of "new borrowing of
    900 million euros"), and "three years" (of "polluted the river for three years") does not say when
    the brewery was fined. "20 years", "since 2010", "three years ago" and "the next day" pass."""
    how_long, when = bool(_HOW_LONG.search(question)), bool(_WHEN.search(question))
    if (how_long or when) and _SUM_OR_SHARE.search(answer):
        return True
    if how_long:
        return bool(_CALENDAR.search(answer) and not _UNITS_OF_TIME.search(answer) and not _SPAN_WORDS.search(answer))
    if when:
        return bool(_UNITS_OF_TIME.search(answer) and not _CALENDAR.search(answer) and not _RELATIVE.search(answer))
    return False


_TIME_NAMED = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
                         r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|(?:1[5-9]|20)\d\d)\b")
_FIGURE = re.compile(r"\d(?:[\d,.]*\d)?")


def figure_of_the_asked_time(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """The span the answer `sentence[start:end]` should have where the question names a time (a month, a
    weekday, a year) that the sentence names beside several figures: the answer's own where its figure is
    told of the asked time, or of none; the figure told of the asked time, in the answer's shape, where
    the answer's is told of another ("6.4 percent" of "Inflation was 5.8 percent in October, down from 6.4
    percent in September" for "What was inflation in September?"); None where no figure is told of it."""
    asked = {m.group() for m in _TIME_NAMED.finditer(question)}
    times = list(_TIME_NAMED.finditer(sentence))
    if not asked or not any(t.group() in asked for t in times) or _WHEN.search(question):
        return start, end
    figures = [f for f in _FIGURE.finditer(sentence) if not any(t.start() <= f.start() < t.end() for t in times)
               and not _day_of(sentence, f, times)]
    told = {f.start(): _nearest_time(sentence, f, times) for f in figures}
    own = next((f for f in figures if start <= f.start() < end), None)
    if own is None or told[own.start()] is None or told[own.start()] in asked:
        return start, end
    other = next((f for f in figures if told[f.start()] in asked), None)
    if other is None:
        return None
    before, after = sentence[start:own.start()], sentence[own.end():end]  # the answer's shape: "about", " percent"
    first = other.start() - len(before) if sentence[:other.start()].endswith(before) else other.start()
    last = other.end() + len(after) if sentence[other.end():].startswith(after) else other.end()
    return first, last


def _day_of(sentence: str, figure: re.Match, times: list[re.Match]) -> bool:
    """The figure is a day of a month named beside it ("18 December", "December 18")."""
    return any((t.start() >= figure.end() and not sentence[figure.end():t.start()].strip())
               or (t.end() <= figure.start() and not sentence[t.end():figure.start()].strip()) for t in times)


def _nearest_time(sentence: str, figure: re.Match, times: list[re.Match]) -> str | None:
    """The time a figure is told of: one right after it, its unit words and a preposition between
    ("5.8 percent in October", "$5 billion in 2023"), else None ("4.75 percent until at least March")."""
    for t in times:
        if t.start() >= figure.end() and _TOLD_OF.fullmatch(sentence[figure.end():t.start()]):
            return t.group()
    return None


_TOLD_OF = re.compile(r"(?:\s*[A-Za-z%€$£]+){0,2}\s+(?:in|on|during|for)\s+(?:the\s+)?|\s*%?\s+(?:in|on|during|for)\s+")


_CHANGE = (r"(?:rise|rises|rising|rose|risen|raise|raises|raising|raised|fall|falls|falling|fell|fallen|cut|cuts|cutting|"
           r"increase|increases|increasing|increased|decrease|decreases|decreasing|decreased|drop|drops|dropping|dropped|"
           r"grow|grows|growing|grew|grown|climb|climbs|climbing|climbed|jump|jumps|jumping|jumped|gain|gains|gained|"
           r"slip|slips|slipped|shrink|shrinks|shrank|shrunk|reduce|reduces|reduced|lower|lowers|lowered|lift|lifts|lifted)")
_CHANGE_ASKED = re.compile(rf"\bby how (?:much|many)\b|\bhow much\b.*\b{_CHANGE}\b", re.I)
_BY_FIGURE = re.compile(rf"\b{_CHANGE}\b[^,;.]*?\bby\s+(?:(?:an average of|on average|about|around|some|nearly|almost|roughly|"
                        r"more than|less than|just over|just under|a further|another)\s+)*"
                        r"((?:(?!\s(?:on|in|to|as|after|from|since|this|last|for)\b)[^,;.]|\.\d)+)", re.I)
_QUARTER = re.compile(r"\bquarters?\b", re.I)  # "by a quarter of a percentage point" (no count word elsewhere)
_TO_LEVEL = re.compile(rf"\b{_CHANGE}\b[^;]*\bto\s+(?:(?:about|around|nearly|almost|roughly|some|just over|just under)\s+)*$", re.I)


def figure_of_the_change(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """The span the answer `sentence[start:end]` should have where the question asks by how much
    something rose or fell: the sentence's "by" figure after a verb of change ("38 euros" of "their monthly
    payments will rise by an average of 38 euros" for "How much will monthly payments rise?", over the
    households' "1.2 million" before it); None where the answer is the level reached ("to 4.75 percent")
    and no "by" figure is said; the answer's own otherwise."""
    if not _CHANGE_ASKED.search(question):
        return start, end
    by = [m for m in _BY_FIGURE.finditer(sentence)
          if (has_number(m.group(1)) or _QUARTER.search(m.group(1))) and len(m.group(1).split()) <= 7 and not _CALENDAR.search(m.group(1))]  # not "by 2025"
    if any(m.start(1) <= start < m.end(1) for m in by):
        return start, end
    if by:
        return by[0].start(1), by[0].end(1)
    return None if _TO_LEVEL.search(sentence[:start]) else (start, end)


def figure_asked(question: str, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """The answer's span moved to the figure of the asked time (`figure_of_the_asked_time`) and then to the
    asked change (`figure_of_the_change`), as both answerers judge a span; None where neither stands."""
    span = figure_of_the_asked_time(question, sentence, start, end)
    return span and figure_of_the_change(question, sentence, *span)
