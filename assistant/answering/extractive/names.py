"""Does the answer's article name what the question names?

"How many people died in Storm Hollis?", asked of a harbour story and a Syrian war story, was
answered "hundreds" from the war story ("hundreds of civilians have died"): a sentence that fits the
question's shape, in an article that never mentions Storm Hollis. An answer is only as good as its
article, so an answer whose article (the retrieved passages of it, its title, and the site its web
address names) lacks a name or a number the question asks about is a "not found".

Measured with the extractive answerer (`python -m bench.eval squad2|realtimeqa --index-dir DIR`,
BENCHMARKS.md): most questions it stops were answered wrongly before, and SQuAD 2.0's unanswerable
questions, which often swap in a name the paragraph lacks, are stopped too.

Also here: who "Who is X?" asks about, and whether a description stands right beside that name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from assistant.answering.base import RetrievedPassage
from assistant.answering.extractive.text import LIGHT, STOP, content_stems, question_parts, stem, tokens

_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$", re.I)
_ASKING = frozenset("which what whose".split())
_ASIDE = re.compile(r",\s*(?:which|who|whose|where|when)\b[^,]*,", re.I)


def asked_names(question: str) -> list[str]:
    """Stems of the names and numbers the question asks about, one per name.

    - A run of capitalised words counts by its last word: "Joe Biden" by "biden", which an article
      may use alone.
    - Only the question's last sentence counts, not a quiz's lead-in ("X died this week. Which ...?"),
      nor an aside between commas (", which the company said was built in 1998,").
    - Left out: the word the question asks for ("which Republican", "what TV show"), ordinals
      ("3rd", which articles may spell out), single letters ("U.S." splits into "U" and "S")."""
    return [name for name, _, _ in _asked(question)]


def _asked(question: str) -> list[tuple[str, str, bool]]:
    """`asked_names`, each with its initials where another spelling may stand for it, and whether it
    is an acronym: ("union", "eu", False) for "European Union", which an article may write "EU";
    ("mvp", "mvp", True) for "MVP", which an article may write out ("most valuable player")."""
    asked = _ASIDE.sub(",", question_parts(question)[-1])
    names: list[tuple[str, str, bool]] = []
    run: list[str] = []
    previous = ""
    for i, word in enumerate(tokens(asked)):
        capital = (i > 0 and word[0].isupper() and word.lower() not in STOP and previous not in _ASKING
                   and len(word) > 1)
        if word[0].isdigit() and not _ORDINAL.match(word):
            names.append((stem(word), "", False))
        elif capital and run:
            run.append(word)
            names[-1] = (stem(word), "".join(w[0] for w in run).lower(), False)
        elif capital:
            run = [word]
            names.append((stem(word), word.lower() if word.isupper() else "", word.isupper()))
        if not capital:
            run = []
        previous = word.lower()
    return names


def _written_out(text: str, acronym: str) -> bool:
    """The text writes the acronym out: words whose initials spell it, function words inside left
    out ("Department of Justice" for "DOJ"). Two letters need capitalised words ("United Nations");
    three or more may be lowercase ("most valuable player")."""
    words = [w for w in tokens(text) if w.lower() not in STOP]
    n = len(acronym)
    for i in range(len(words) - n + 1):
        run = words[i : i + n]
        if "".join(w[0] for w in run).lower() == acronym and (n > 2 or all(w[0].isupper() for w in run)):
            return True
    return False


def publisher(source: str) -> str:
    """The site a web address names, its words run together: "theverge" for
    https://www.theverge.com/2023/9/26/..., "" for a file name."""
    host = (urlsplit(source).hostname or "") if re.match(r"https?://", source, re.I) else ""
    labels = [label for label in host.lower().split(".") if label not in _HOST_NOISE]
    return max(labels, key=len, default="")


_HOST_NOISE = frozenset("www m amp news edition com org net co uk au us ca de fr io tv info".split())


def missing_names(question: str, passages: list[RetrievedPassage], doc_id: str, whole_article: bool = True) -> list[str]:
    """The question's names and numbers (`asked_names`) that article `doc_id` lacks: in the retrieved
    passages of it, its title and its web address, and then, with `whole_article`, in its whole text where
    the retriever read it (`RetrievedPassage.article`: on RealTime QA "MVP" and "23 years" were said in
    other paragraphs of the stories that answered). A run of words also counts as there
    when the article has its initials ("EU" for "European Union"), an acronym when the article writes
    it out, and a publisher's name when the address is its site ("Which company, reported by
    TechCrunch, ..." of an article from techcrunch.com, whose text never says TechCrunch)."""
    names = _asked(question)
    if not names:
        return []
    mine = [p for p in passages if p.doc_id == doc_id]
    missing = _missing(names, mine, [text for p in mine for text in (p.text, p.title or "")])
    article = _article(mine)
    if missing and article and whole_article:  # the retrieved passages lack some: the whole article may have them
        missing = _missing([n for n in names if n[0] in missing], mine, [article, mine[0].title or ""])
    return missing


def missing_subject(answer: str, nouns: list[str], passages: list[RetrievedPassage], doc_id: str) -> bool:
    """The answer is a figure or a date, and none of the question's subject nouns (`spans.subject_nouns`:
    "inflation" of "What was inflation in August?") is anywhere in article `doc_id` (its whole text where
    the retriever read it, else its retrieved passages and title): it is a figure of something else
    ("January" of a measles story's "between January and August"). Figures and dates only: SQuAD 2.0
    asks of names in other words ("What was Hero of Alexandria's nationality?" -> "Greek"), and judging
    every answer so refused 9 right ones there. A question whose subject has no common noun is not judged."""
    asked = {stem(noun.lower()) for noun in nouns if noun.lower() not in STOP and noun.lower() not in LIGHT}
    if not asked or not _FIGURE_OR_DATE.search(answer):
        return False
    mine = [p for p in passages if p.doc_id == doc_id]
    article = _article(mine)
    texts = [article] if article else [p.text for p in mine]
    found = {word for text in [*texts, *(p.title or "" for p in mine)] for word in content_stems(text)}
    return not asked & found


_FIGURE_OR_DATE = re.compile(r"\d|\b(?:January|February|March|April|May|June|July|August|September|October|November|"
                             r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


def _article(mine: list[RetrievedPassage]) -> str | None:
    """The whole text of the article these passages come from, where the retriever read it."""
    return next((p.article for p in mine if p.article), None)


def _missing(names: list[tuple[str, str, bool]], mine: list[RetrievedPassage], texts: list[str]) -> list[str]:
    """Those of `names` (`_asked`) that `texts` of the article lack."""
    found = {word for text in texts for word in content_stems(text)}
    sites = {site for p in mine if (site := publisher(p.source))}

    def there(name: str, initials: str, acronym: bool) -> bool:
        if name in found or (initials and not acronym and initials in found):
            return True
        if name.isalpha() and any(_spelled_alike(name, word) for word in found):
            return True  # "Zeria" for Zeira
        if len(name) >= 3 and any(name in site for site in sites):
            return True  # "TechCrunch" (techcrunch), "The Verge" (verg, of theverge)
        return acronym and any(_written_out(text, initials) for text in texts)

    return [name for name, initials, acronym in names if not there(name, initials, acronym)]


def _spelled_alike(name: str, word: str) -> bool:
    """A word that is the name misspelled by one letter (two swapped, one missing or one extra), for names
    of five letters or more: SQuAD 2.0 asks "When did Galor and Zeria show ...?" of "Galor and Zeira
    showed". Measured there, also counting a name's adjective ("Brazil" in "Brazilian") let three
    wrong answers through for none right, so it does not count."""
    if word[:1] != name[:1] or not word.isalpha():
        return False
    return len(name) >= 5 and abs(len(word) - len(name)) <= 1 and _one_edit(name, word)


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by two neighbouring letters swapped, or by one letter added or dropped inside."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        # a swap only: one letter replaced makes another name as often as a typo (Obama, Osama)
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = sorted((a, b), key=len)
    i = next((i for i in range(len(short)) if short[i] != long[i]), len(short))
    # not a letter added at the end: that makes another word of the name (Victoria, Victorian)
    return i < len(short) and short[i:] == long[i + 1:]


_IDENTITY = re.compile(r"^\s*(?:who|what)\s+(?:is|was|are|were)\s+(.+?)[\s?.!]*$", re.I)
_BESIDE = re.compile(r"^[\s,]*$")  # what may separate a name from its description: a comma, spaces


def identity_name(question: str) -> str | None:
    """X in "Who is X?" / "What was X?" when X is a name (each word capitalised): "Sarah Mbeki"."""
    m = _IDENTITY.match(question)
    if not m:
        return None
    name = m.group(1).strip()
    words = name.split()
    if not words or not all(w[0].isupper() or w.lower() in ("of", "for", "the", "and", "de", "von") for w in words):
        return None
    return name if words[0][0].isupper() else None


def describes_name(description: str, name: str, sentence: str) -> bool:
    """The description stands right beside the name in the sentence, as a title or an apposition
    ("The company's chief executive, Sarah Mbeki", "Mayor Tomas Reid", "Ingrid Halvorsen, the
    harbour master"), not elsewhere in it ("Judge Alan Cooke approved it at Lancaster Crown Court"
    does not make Alan Cooke the court)."""
    for m in re.finditer(re.escape(name), sentence):
        for d in re.finditer(re.escape(description), sentence):
            if d.end() <= m.start():
                between = sentence[d.end():m.start()]
            elif m.end() <= d.start():
                between = sentence[m.end():d.start()]
            else:
                continue  # they overlap
            if _BESIDE.match(between):
                return True
    return False
