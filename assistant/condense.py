"""Rewrite a follow-up question into a standalone one before retrieval.

Without an LLM: when the question leans on a pronoun ("What did he say about the evacuation?"), the
pronoun is replaced by the entity the previous turn was about (a name in the last question, else
the last short answer). With an LLM: the `condense` prompt.
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
    names = _names(asked[-1]) or (_names(answered[-1].split("[")[0]) if answered else [])
    if not names:
        return question
    subject = max(names, key=len)

    def replace(match: re.Match) -> str:
        word = match.group(1).lower()
        return f"{subject}'s" if word in _POSSESSIVE.split("|") else subject

    return _PRONOUN.sub(replace, question, count=1)


def with_llm(question: str, history: list | None, chat) -> str:
    conversation = turns(history)
    if not conversation:
        return question
    lines = "\n".join(f"{t['role']}: {t['content']}" for t in conversation[-6:])[-CONDENSE_HISTORY_CHARS:]
    text = "".join(chat([{"role": "user", "content": prompts.render("condense", history=lines, question=question)}])).strip()
    text = text.splitlines()[0].strip() if text else ""
    return text if 3 <= len(text) <= 500 else question
