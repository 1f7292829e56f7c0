"""Text normalisation shared by indexing and querying, robust to damaged wire copy.

Wire copy often loses apostrophes and quotes ("Syria s Raqqa", "the battle s end"). The stored text
is never changed; these functions only shape what is embedded and what the lexical index sees.
"""

import re

_LONE_S = re.compile(r"(?<=\w) (s|S)\b(?!-)")
_LONE_T = re.compile(r"\b(don|can|won|isn|aren|wasn|weren|didn|doesn|hasn|haven|hadn|couldn|wouldn|shouldn) t\b", re.I)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'"})
_TOKEN = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about against between into through during before after above
    below to from up down in out on off over under again further then once here there when where why how all
    any both each few more most other some such no nor not only own same so than too very s t can will just
    don should now is are was were be been being have has had having do does did doing would could i me my we
    our you your he him his she her it its they them their what which who whom this that these those am as
    until while said says say tell told according also""".split()
)


def repair_wire_text(text: str) -> str:
    """Put back apostrophes that wire copy dropped: "Syria s" -> "Syria's", "don t" -> "don't"."""
    text = text.translate(_QUOTES)
    text = _LONE_S.sub(r"'\1", text)
    return _LONE_T.sub(r"\1't", text)


def search_tokens(text: str) -> list[str]:
    """Lower-case word tokens with possessives folded: "Syria's", "Syria s" and "Syrias'" all give "syria"."""
    text = repair_wire_text(text).lower().replace("'s", " ").replace("'", "")
    return _TOKEN.findall(text)


def content_tokens(text: str) -> list[str]:
    return [token for token in search_tokens(text) if token not in STOPWORDS]
