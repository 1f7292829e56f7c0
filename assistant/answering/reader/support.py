"""Is the reader's short answer supported by a sentence it was shown, and where exactly?

The reader may paraphrase, add a word, or name something the sentences never say. Its answer is
kept only when it is a span of a shown sentence after normalisation (case, punctuation, spacing,
thousands separators, curly quotes), or, failing that, when every one of its words is found in one
sentence. The span found is copied verbatim from the sentence, so the short answer shown is always
article text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answering.extractive.question import speaks
from assistant.answering.extractive.text import stem
from index.text import STOPWORDS, content_tokens

UNKNOWN = "unknown"
_REFUSAL = re.compile(r"^\W*(unknown|not (found|mentioned|stated|given|specified)|none|n/?a|no answer|"
                      r"the sentences do not|i (don'?t|do not) know|cannot be determined)\b", re.I)
_PREFIX = re.compile(r"^\s*(short answer|answer|a)\s*[:\-]\s*", re.I)
_NUMBER_COMMA = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}\b)")
MAX_ANSWER_CHARS = 200
_BEFORE_NUMBER = "$£€¥"
_AFTER_NUMBER = "%°"


@dataclass
class Support:
    sentence: int  # index into the sentences given
    start: int  # character offsets of the supporting span in that sentence (the whole sentence when
    end: int  # only its words were found)
    exact: bool  # a span of the sentence, not only its words


def clean(text: str) -> str | None:
    """The reader's reply as a short answer, or None when it declines (says "unknown" or the like)."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    answer = _PREFIX.sub("", lines[0]) if lines else ""
    answer = answer.strip().strip("\"'“”‘’`*").strip()
    answer = re.sub(r"[.;,:!]+$", "", answer).strip()
    if not answer or _REFUSAL.match(answer) or len(answer) > MAX_ANSWER_CHARS:
        return None
    return answer


def _normal_chars(text: str) -> tuple[str, list[int]]:
    """Lowercased letters and digits with single spaces between words, and for each kept character
    its offset in `text` (so a match maps back to a verbatim span)."""
    text = _NUMBER_COMMA.sub("\x00", text)  # "84,000" matches "84000": drop separators, keep offsets
    out: list[str] = []
    where: list[int] = []
    gap = False
    for at, char in enumerate(text):
        if char == "\x00":
            continue
        folded = unicodedata.normalize("NFKD", char)[:1].lower()
        if folded.isalnum():
            if gap and out:
                out.append(" ")
                where.append(at)
            out.append(folded)
            where.append(at)
            gap = False
        else:
            gap = True
    return "".join(out), where


def find_span(answer: str, sentence: str, plural: bool = False) -> tuple[int, int] | None:
    """Offsets of `answer` in `sentence`, matched on word boundaries after normalisation. With `plural`,
    its last word may also be the sentence's in the plural or the singular ("vampire bat" finds "Vampire
    bats", and the span is the sentence's)."""
    needle, _ = _normal_chars(answer)
    hay, where = _normal_chars(sentence)
    if not needle:
        return None
    pattern = re.escape(needle)
    if plural:
        last = needle.rsplit(" ", 1)[-1]
        if len(last) < 3 or not last.isalpha():
            return None  # "a" is not "as"
        if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
            pattern = re.escape(needle[:-1]) + "(?:s|es)?"  # "bats" finds "bat" too
        else:
            pattern += "(?:s|es)"
    for match in re.finditer(rf"(?<![a-z0-9]){pattern}(?![a-z0-9])", hay):
        start, end = where[match.start()], where[match.end() - 1] + 1
        while start > 0 and sentence[start - 1] in _BEFORE_NUMBER and sentence[start].isdigit():
            start -= 1  # "$84" and "€84", not "84"
        while end < len(sentence) and sentence[end] in _AFTER_NUMBER and sentence[end - 1].isdigit():
            end += 1  # "36%", not "36"
        return start, end
    return None


def support(answer: str, sentences: list[str], question: str = "") -> Support | None:
    """The first sentence holding the answer as a span; else holding the answer's part that is new to
    the question as a span (`answer_parts`); else the same with the last word's number changed
    ("vampire bat" of "Vampire bats"); else one holding all its words; else None."""
    forms = [f for part in answer_parts(answer, question) for number in number_forms(part) for f in spellings(number)]
    for plural in (False, True):  # the exact words anywhere first
        for form in forms:
            for n, sentence in enumerate(sentences):
                span = find_span(form, sentence, plural)
                if span:
                    return Support(n, span[0], span[1], True)
    words = set(content_tokens(answer))
    if not words:
        return None
    for n, sentence in enumerate(sentences):
        if words <= set(content_tokens(sentence)):
            return Support(n, 0, len(sentence), False)
    return None


_NUMBER_NAMES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen twenty").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_SPELLED = {**{str(n): word for n, word in enumerate(_NUMBER_NAMES)},
            **{str(n * 10): word for n, word in zip(range(2, 10), _TENS)},
            **{str(n * 10 + unit): f"{word}-{_NUMBER_NAMES[unit]}" for n, word in zip(range(2, 10), _TENS)
               for unit in range(1, 10)}}
_WRITTEN = {word: digits for digits, word in _SPELLED.items()}
_PERCENT_SIGN = re.compile(r"(\d)\s*%")
_PERCENT_WORD = re.compile(r"(\d)\s*(?:percent|per cent)\b", re.I)


def number_forms(answer: str) -> list[str]:
    """The answer, then with its numbers below 100 written the other way, and a percent sign as a word
    and back: the model writes "5" where the article says "five" ("chosen from five bidders"), "95%"
    for "Ninety-five percent" and "84%" for "84 percent", and such replies were "not found" or lost
    their unit. The word form comes first, so "84%" finds the article's "84 percent" whole."""
    bases = [_PERCENT_SIGN.sub(r"\1 percent", answer), answer, _PERCENT_WORD.sub(r"\1%", answer)]
    forms = []
    for base in bases:
        forms += [base, re.sub(r"\b\d+\b", lambda m: _SPELLED.get(m.group(), m.group()), base),
                  re.sub(r"\b[A-Za-z]+(?:-[A-Za-z]+)?\b", lambda m: _WRITTEN.get(m.group().lower(), m.group()), base)]
    return list(dict.fromkeys(forms))


_RE_ER = re.compile(r"\b((?:kilo|centi|milli)?met|lit|cent|theat|fib)(er|re)(s?)\b", re.I)
_OR_OUR = re.compile(r"\b(col|hon|lab|neighb|fav|harb|behavi|rum|vap|arm|flav)(o|ou)r(s?)\b", re.I)


def spellings(answer: str) -> list[str]:
    """The answer, then in British and in American spelling: the model writes "30 kilometers" where the
    article says "30 kilometres", and "harbor" for "harbour". Only word families where the two differ
    in a fixed way (-er/-re, -or/-our)."""
    def british(text: str) -> str:
        text = _RE_ER.sub(lambda m: f"{m.group(1)}re{m.group(3)}", text)
        return _OR_OUR.sub(lambda m: f"{m.group(1)}our{m.group(3)}", text)

    def american(text: str) -> str:
        text = _RE_ER.sub(lambda m: f"{m.group(1)}er{m.group(3)}", text)
        return _OR_OUR.sub(lambda m: f"{m.group(1)}or{m.group(3)}", text)

    return list(dict.fromkeys([answer, british(answer), american(answer)]))


def answer_parts(answer: str, question: str) -> list[str]:
    """The answer, then its shorter runs of words that still hold every word the question lacks,
    longest first: the model often replies in a sentence that repeats the question ("40,000 homes
    lost power." for "How many homes lost power?"), and "40,000 homes" is the span the article has.
    A word of the answer the question lacks (compared by stem: "titles" is the question's "title")
    is never dropped, so nothing invented is cut away. A shorter run may not end on a function word
    (a reply cut off at "The Tragedy of") nor be one lowercase word (a verb left over: "wants")."""
    words = answer.split()
    if not question or len(words) < 2:
        return [answer]
    asked = {stem(t) for t in content_tokens(question)}
    new = [n for n, word in enumerate(words)
           if any(stem(t) not in asked for t in content_tokens(word)) or _bare(word) in _NEGATIONS]
    if not new:
        return [answer]
    parts = []
    for first in range(new[0] + 1):
        for last in range(new[-1], len(words)):
            run = words[first : last + 1]
            if len(run) < len(words) and (_bare(run[-1]) in STOPWORDS or (len(run) == 1 and run[0].islower())):
                continue
            parts.append(" ".join(run))
    return sorted(parts, key=lambda part: -len(part))


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'“”‘’()").lower()


_NEGATIONS = frozenset("not no never none nobody nothing".split())
ECHO_SHARE = 0.5  # an answer with more than this share of its words taken from the question is an echo


def echoes_question(answer: str, question: str, names_a_thing: Callable[[str, set[str]], bool] | None = None) -> bool:
    """The answer mostly repeats the question: "Who is Ingrid Halvorsen?" -> "Ingrid Halvorsen", or
    "What did the council and the cooperative agree to?" -> "brokered by the council and the
    cooperative in 2023" (seen with the 0.5B reader). "Ingrid Halvorsen, the harbour master" is half
    new words, and an answer. A reply that is only a word for speaking ("said" for "What did Lena
    Fischer say about the deal?") repeats the question's verb too.

    Given `names_a_thing(answer, new_words)` (`names_a_thing` below, on the reader's parse), an answer
    with some words new is not an echo where those new words only name or describe a thing (nouns,
    names, adjectives; not numbers: "Six-Day War" for "during the Seven-Day War?"): "Northern San
    Diego" for "Where are the majority of San Diego's business districts?", "the courts of member
    states" for "Who can enforce the law when member states provide lesser rights?"."""
    plain = re.findall(r"[^\W\d_]+", answer)
    if plain and speaks(question) and all(speaks(word) for word in plain):
        return True
    words = content_tokens(answer)
    asked = set(content_tokens(question))
    repeated = sum(word in asked for word in words)
    if not words or repeated / len(words) <= ECHO_SHARE:
        return False
    new = {word for word in words if word not in asked}
    return not new or names_a_thing is None or not names_a_thing(answer, new)


def names_a_thing(nlp, answer: str, new: set[str]) -> bool:
    """Every word of `answer` among `new` (words the question lacks) is a noun, a name or an adjective in
    spaCy's parse of the answer: "Northern" of "Northern San Diego", not "brokered", nor "Six" of "Six-Day War"
    (SQuAD 2.0 asked about a "Seven-Day War")."""
    tags = [token.pos_ for token in nlp(answer) if set(content_tokens(token.text)) & new]
    return bool(tags) and all(tag in _NAMING for tag in tags)


_NAMING = frozenset({"NOUN", "PROPN", "ADJ"})
