"""Rewrite a follow-up question into a standalone one before retrieval.

Without an LLM: when the question leans on a pronoun, in any case ("What did he say about the
evacuation?", "what did they agree to?"), the pronoun is replaced by what the previous turn was
about: a name in the last question ("Who is Laila Mostafa?"), else the last short answer ("Who
brokered the deal?" -> "the regional council"), else a name in the last answer. Answers carry
their short answer on a first line `Short answer: ...` (the chat page, `/v1` and `ask --follow-up`
write it so), which is how it is found again in a plain-text history.

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


def rule_based(question: str, history: list | None) -> str:
    """The question with its first pronoun replaced by a name: never longer than the question plus
    MAX_NAME_CHARS (the engine checks the result against its question limit)."""
    conversation = turns(history)
    asked = [t["content"] for t in conversation if t["role"] == "user"]
    answered = [t["content"] for t in conversation if t["role"] == "assistant"]
    if not asked or not _PRONOUN.search(question):
        return question
    names = _names(asked[-1])
    if not names and answered:
        short = short_answer_of(answered[-1])
        names = [short] if short else _names(answered[-1].split("[")[0])
    if not names:
        return question
    subject = max(names, key=len)

    def replace(match: re.Match) -> str:
        word = match.group(1).lower()
        return f"{subject}'s" if word in _POSSESSIVE.split("|") else subject

    return _PRONOUN.sub(replace, question, count=1)


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
