"""The answering stage: one small interface, three backends chosen by `answer_mode`.

- extractive (default, offline): picks evidence sentences and a short answer; no LLM.
- openai: any OpenAI-compatible chat endpoint through LangChain's `ChatOpenAI`.
- llamacpp: a local GGUF through llama-cpp-python (optional extra).
The LLM backends check every sentence they write against the passage it cites, and fall back to the
extractive answer when nothing they wrote is supported.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from langchain_core.documents import Document

NOT_FOUND = "I couldn't find that in the loaded articles."
MAX_ANSWER_WORDS = 60  # a second evidence sentence is added only while the answer stays this brief


@dataclass
class Evidence:
    passage: int  # index into the retrieved passages
    start: int  # article offsets of the evidence sentence
    end: int
    text: str


@dataclass
class Draft:
    answer: str  # text with [n] markers, n = 1-based index into `evidence`
    evidence: list[Evidence] = field(default_factory=list)
    short_answer: str | None = None
    confidence: float = 0.0
    abstained: bool = False


class Answerer(Protocol):
    mode: str

    def stream(self, question: str, passages: list[Document], question_vector: np.ndarray | None) -> Iterator[str | Draft]:
        """Yield answer text pieces as they are produced, then the final Draft last."""


def sentences_of(document: Document) -> list[tuple[int, int, str]]:
    """(start, end, text) of each sentence of a retrieved passage, in article offsets."""
    base = document.metadata["start"]
    text = document.page_content
    return [(s, e, text[s - base : e - base]) for s, e in document.metadata["sentences"]]


class ExtractiveAnswerer:
    """Adapter from the retriever's Documents to `assistant.extractive`."""

    mode = "extractive"

    def __init__(self, extractor=None, embed=None):
        from assistant.extractive import ExtractiveAnswerer as Extractor

        self.extractor = extractor or Extractor(embed=embed)

    def draft(self, question: str, passages: list[Document], question_vector: np.ndarray | None = None) -> Draft:
        from assistant.extractive import PassageIn

        inputs = [
            PassageIn(text=d.page_content, start=d.metadata["start"], sentences=[tuple(s) for s in d.metadata["sentences"]],
                      score=d.metadata.get("score") or 0.0)
            for d in passages
        ]
        if not inputs:
            return Draft(answer=NOT_FOUND, abstained=True)
        result = self.extractor.answer(question, inputs, question_vector=question_vector)
        evidence = [Evidence(s.passage, s.start, s.end, s.text) for s in result.sentences]
        if len(evidence) > 1 and sum(len(e.text.split()) for e in evidence) > MAX_ANSWER_WORDS:
            evidence = evidence[:1]
        answer = " ".join(f"{e.text} [{n}]" for n, e in enumerate(evidence, 1))
        return Draft(answer=answer, evidence=evidence, short_answer=result.short_answer, confidence=result.confidence)

    def stream(self, question, passages, question_vector=None):
        draft = self.draft(question, passages, question_vector)
        yield draft.answer
        yield draft

    def close(self) -> None:
        """Stop worker processes, if answering runs in any (setting `answer_workers`)."""
        close = getattr(self.extractor, "close", None)
        if close is not None:
            close()


def make_answerer(settings, embeddings=None) -> Answerer:
    """The one place a mode name becomes a backend."""
    embed = getattr(embeddings, "encode", None)
    extractor = None
    if settings.answer_workers:
        from assistant.pool import PooledExtractor

        extractor = PooledExtractor(settings.answer_workers)
    extractive = ExtractiveAnswerer(extractor=extractor, embed=embed)
    mode = settings.answer_mode
    if mode == "extractive":
        return extractive
    from assistant import llm

    if mode == "openai":
        return llm.LLMAnswerer(llm.openai_chat(settings), extractive, mode="openai")
    if mode == "llamacpp":
        return llm.LLMAnswerer(llm.llamacpp_chat(settings), extractive, mode="llamacpp")
    from core.errors import ConfigError

    raise ConfigError(f"unknown answer_mode {mode!r}; valid modes: extractive, openai, llamacpp")
