"""Rewrite a follow-up question into a standalone one before retrieval.

Without an LLM: when the question leans on a pronoun, in any case ("What did he say about the
evacuation?", "what did they agree to?"), the pronoun is replaced by what it refers to (`referent`):
for he or she a person's name answered or asked about ("Who won?" -> "Maria Castell"; "Who is Laila
Mostafa?"), for it or they a name asked about or a short answer ("Who brokered the deal?" -> "the
regional council"); the same pronoun used earlier keeps its referent. Answers carry their short
answer on a first line `Short answer: ...` (the chat page, `/v1` and `ask --follow-up` write it so),
which is how it is found again in a plain-text history.

With a model (the reader, or an LLM mode): the `condense` prompt, and the rewrite is kept only if it
still holds every content word of the question (a small model sometimes answers instead, or drops
the point of the question); otherwise the rule-based rewrite is used.
"""

import re

from assistant import prompts

_PERSONAL = r"he|she|they|him|them|it"
_POSSESSIVE = r"his|her|their|its"
_PRONOUN = re.compile(rf"\b({_PERSONAL}|{_POSSESSIVE})\b", re.I)
_NAME = re.compile(r"\b(?:[A-Z][\w.-]*(?:\s+(?:of|the|de|al|bin)\s+)?)+(?:\s+[A-Z][\w.-]*)*")
# A name is a few words ("Talal Selo", "Abu Bakr al Baghdadi"); a longer run of capitalised words is a
# title or a shouted sentence, and substituting it once made a 900 kB "question" that crashed the answerer.
MAX_NAME_WORDS = 6
MAX_NAME_CHARS = 60
# The conversation quoted in the condense prompt, most recent end kept: ~1,500 tokens, so the prompt,
# the question and the reply fit llama.cpp's 4,096-token context (assistant/answering/llm.py).
CONDENSE_HISTORY_CHARS = 6000
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Which", "Why", "How", "Did", "Does", "Do", "Is", "Are", "Was", "Were", "Can", "Tell", "And", "The"}


def turns(history: list | None) -> list[dict]:
    """History as [{role, content}], accepting [[user, assistant], ...] pairs too."""
    out: list[dict] = []
    for item in history or []:
        if isinstance(item, dict) and "content" in item:
            out.append({"role": item.get("role", "user"), "content": str(item["content"] or "")})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out += [{"role": "user", "content": str(item[0] or "")}, {"role": "assistant", "content": str(item[1] or "")}]
    return out


def _names(text: str) -> list[str]:
    found = []
    for match in _NAME.finditer(text):
        words = match.group().split()
        while words and words[0] in _QUESTION_WORDS:
            words.pop(0)
        name = " ".join(words)
        if words and len(words) <= MAX_NAME_WORDS and len(name) <= MAX_NAME_CHARS:
            found.append(name)
    return found


_GROUPS = ({"he", "him", "his"}, {"she", "her"}, {"they", "them", "their"}, {"it", "its"})
_PEOPLE = _GROUPS[0] | _GROUPS[1]  # he and she
MAX_TURNS_BACK = 8  # how far back a pronoun's referent is looked for


def rule_based(question: str, history: list | None) -> str:
    """The question with its first pronoun replaced by what it refers to: never longer than the
    question plus MAX_NAME_CHARS (the engine checks the result against its question limit)."""
    match = _PRONOUN.search(question)
    if not match:
        return question
    subject = referent(match.group(1).lower(), exchanges(history))
    if not subject:
        return question

    def replace(found: re.Match) -> str:
        word = found.group(1).lower()
        return f"{subject}'s" if word in _POSSESSIVE.split("|") else subject

    return _PRONOUN.sub(replace, question, count=1)


def exchanges(history: list | None) -> list[tuple[str, str]]:
    """(question, answer) pairs, oldest first; the answer is "" where none was given."""
    pairs: list[tuple[str, str]] = []
    for turn in turns(history):
        if turn["role"] == "user":
            pairs.append((turn["content"], ""))
        elif turn["role"] == "assistant" and pairs and not pairs[-1][1]:
            pairs[-1] = (pairs[-1][0], turn["content"])
    return pairs[-MAX_TURNS_BACK:]


def referent(pronoun: str, pairs: list[tuple[str, str]]) -> str | None:
    """What `pronoun` refers to, the latest exchange first:
    - where an exchange used a pronoun of the same group ("she", "her"), what that one referred to: in
      "Who won?" / "How many votes did she get?" / "Who did she beat?" / "When will she take office?",
      she stays the winner although "Tom Avery" was answered in between;
    - he or she: a short answer that is a name ("Maria Castell", never "412" or "eight years"), else a
      name in the question ("Who is Laila Mostafa?");
    - it or they: a name in the question, else a short answer without digits ("the council");
    - else a name in the latest answer's text."""
    group = next(g for g in _GROUPS if pronoun in g)
    person = pronoun in _PEOPLE
    for n in range(len(pairs) - 1, -1, -1):
        asked, answered = pairs[n]
        if {word.lower() for word in _PRONOUN.findall(asked)} & group:
            earlier = referent(pronoun, pairs[:n])
            if earlier:
                return earlier
        short = short_answer_of(answered)
        names = _names(asked)
        if person and short and _is_name(short):
            return short
        if names:
            return max(names, key=len)
        if not person and short and not re.search(r"\d", short):
            return short
    if pairs:  # the latest answer's own text, without its short answer line and citations
        text = _SHORT_LINE.sub("", pairs[-1][1]).split("[")[0]
        if found := _names(text):
            return max(found, key=len)
    return None


def _is_name(text: str) -> bool:
    """Capitalised words without digits: "Maria Castell", "Avery"; not "the council" or "May 18"."""
    words = text.split()
    return bool(words) and all(word[0].isupper() for word in words) and not re.search(r"\d", text)


SHORT_ANSWER_PREFIX = "Short answer:"
_SHORT_LINE = re.compile(rf"^\s*{SHORT_ANSWER_PREFIX}\s*(.+?)\s*$", re.M)


def short_answer_of(answer: str) -> str | None:
    """The short answer an answer turn carries on its `Short answer:` line, if it is name-sized."""
    match = _SHORT_LINE.search(answer or "")
    if not match:
        return None
    short = match.group(1).strip().rstrip(".")
    return short if short and len(short.split()) <= MAX_NAME_WORDS and len(short) <= MAX_NAME_CHARS else None


def with_short_answer(text: str, short_answer: str | None) -> str:
    """An answer turn as written back into a history: its short answer first, on its own line."""
    return f"{SHORT_ANSWER_PREFIX} {short_answer}\n\n{text}" if short_answer else text


def keeps_content(question: str, rewrite: str) -> bool:
    """Every content word of the question survives in the rewrite, as the same word (pronouns are not
    content words). The 0.5B reader turned "What did they agree to?" into "What agreement did the
    council reach?", which reads well but finds and answers worse."""
    from index.text import STOPWORDS

    def words(text: str) -> set[str]:
        return {word for word in re.findall(r"\w+", text.lower()) if word not in STOPWORDS}

    return words(question) <= words(rewrite)


def with_llm(question: str, history: list | None, chat) -> str:
    conversation = turns(history)
    if not conversation:
        return question
    lines = "\n".join(f"{t['role']}: {t['content']}" for t in conversation[-6:])[-CONDENSE_HISTORY_CHARS:]
    text = "".join(chat([{"role": "user", "content": prompts.render("condense", history=lines, question=question)}])).strip()
    text = text.splitlines()[0].strip() if text else ""
    if not 3 <= len(text) <= 500 or not keeps_content(question, text):
        return rule_based(question, history)
    return text
