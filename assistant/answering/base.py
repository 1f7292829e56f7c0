"""The answering stage's interface: what the retriever hands an answerer, what an answerer hands
back, and the answer every edge renders.

Three backends sit behind `Answerer`, chosen by the setting `answer_mode` (`factory.make_answerer`):
- extractive (default, offline): picks evidence sentences and a short answer; no LLM
  (`assistant/answering/extractive/`).
- openai: any OpenAI-compatible chat endpoint through LangChain's `ChatOpenAI` (`llm.py`).
- llamacpp: a local GGUF through xllamacpp (the reader's runtime), an optional extra (`llm.py`).
The LLM backends check every sentence they write against the passage it cites, and fall back to the
extractive answer when nothing they wrote is supported.

One passage shape travels from the retriever to the answerers and the engine: `RetrievedPassage`.
LangChain's `Document` appears only where the retriever meets LangChain (`HybridRetriever.invoke`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

NOT_FOUND = "I couldn't find that in the loaded articles."


@dataclass
class RetrievedPassage:
    """A passage as retrieved for one question: the stored text, where it sits in its article, and
    the article's metadata, so a citation needs nothing else."""

    passage_id: str
    doc_id: str
    title: str
    source: str
    published: str | None
    text: str  # == article_text[start:start + len(text)]
    start: int  # article offset of the passage
    sentences: list[tuple[int, int]]  # article offsets of each sentence in this passage
    score: float = 0.0  # fused retrieval score, higher better; the list's order is the rank
    index: int | None = None  # position of the passage in its article
    dense_score: float | None = None
    lexical_score: float | None = None
    article: str | None = None  # the whole article's text, where the retriever read it (`missing_names`)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def sentence_texts(self) -> list[tuple[int, int, str]]:
        """(start, end, text) of each sentence, in article offsets: the units evidence is made of."""
        return [(s, e, self.text[s - self.start : e - self.start]) for s, e in self.sentences]


@dataclass
class Evidence:
    passage: int  # index into the retrieved passages
    start: int  # article offsets of the evidence sentence
    end: int
    text: str


@dataclass
class Draft:
    """An answerer's answer before the engine applies the abstain threshold and cites it."""

    answer: str  # text with [n] markers, n = 1-based index into `evidence`
    evidence: list[Evidence] = field(default_factory=list)
    short_answer: str | None = None
    confidence: float = 0.0
    abstained: bool = False
    provisional: bool = False  # evidence shown while a reader still works; a final Draft follows
    mode: str | None = None  # the backend that actually answered, when not the answerer's own (reader busy)


class Answerer(Protocol):
    mode: str

    def stream(self, question: str, passages: list[RetrievedPassage],
               question_vector: np.ndarray | None = None) -> Iterator[str | Draft]:
        """Yield answer text pieces as they are produced, then the final Draft last."""

    def close(self) -> None:
        """Release what outlives a call (worker processes)."""


@dataclass
class Citation:
    """One piece of evidence, with offsets into the stored article so `text[start:end] == evidence`."""

    n: int  # the [n] marker in the answer text
    doc_id: str
    title: str
    source: str
    published: str | None
    passage: str  # the retrieved passage's text
    passage_start: int  # its article offset
    evidence: str
    start: int
    end: int

    @classmethod
    def of(cls, n: int, passage: RetrievedPassage, evidence: Evidence) -> Citation:
        return cls(n, passage.doc_id, passage.title, passage.source, passage.published, passage.text, passage.start,
                   evidence.text, evidence.start, evidence.end)

    def to_dict(self) -> dict:
        """The JSON form: the fields in declaration order, which is the contract's order."""
        return asdict(self)


@dataclass
class Answer:
    """The answer contract: what the chat page, the REST API, the OpenAI-compatible API and
    `app.py ask` all render. Values are kept unrounded; `to_dict` is the JSON form."""

    question: str
    standalone_question: str  # what was searched: the question rewritten from the history
    answer: str  # NOT_FOUND when abstained
    short_answer: str | None
    abstained: bool
    confidence: float
    citations: list[Citation]
    mode: str
    timings: dict[str, float]  # milliseconds by stage

    @classmethod
    def from_dict(cls, contract: dict) -> Answer:
        """The JSON contract read back (`app.py ask` beside a server gets it over HTTP)."""
        values = {**contract, "citations": [Citation(**c) for c in contract["citations"]]}
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        """The JSON contract: these keys in this order, confidence to 4 places, timings to 2."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "confidence": round(float(self.confidence), 4),
            "citations": [c.to_dict() for c in self.citations],
            "mode": self.mode,
            "timings": {name: round(value, 2) for name, value in self.timings.items()},
        }
