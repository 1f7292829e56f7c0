"""The answer engine: condense the follow-up, retrieve, answer, cite. One call gives the answer
contract used by the chat page, the REST API, the OpenAI-compatible API and `app.py ask`."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

from langchain_core.documents import Document

from assistant import condense
from assistant.answerers import NOT_FOUND, Answerer, Draft
from assistant.errors import BadInput
from assistant.retriever import HybridRetriever
from index.store import Filters

CALIBRATION = Path(__file__).resolve().parent / "calibration.json"
MAX_QUESTION_CHARS = 2000


def calibrated_threshold() -> float:
    """The abstain threshold chosen on data by bench/extractive_dev.py (see calibration.json)."""
    try:
        return float(json.loads(CALIBRATION.read_text())["abstain_threshold"])
    except (OSError, KeyError, ValueError):
        return 0.0


def citation(n: int, document: Document, start: int, end: int, text: str) -> dict:
    meta = document.metadata
    return {
        "n": n,
        "doc_id": meta["doc_id"],
        "title": meta["title"],
        "source": meta["source"],
        "published": meta["published"],
        "passage": document.page_content,
        "passage_start": meta["start"],
        "evidence": text,
        "start": start,
        "end": end,
    }


class AnswerEngine:
    def __init__(self, retriever: HybridRetriever, answerer: Answerer, abstain_threshold: float | None = None,
                 condenser=None, clock=time.perf_counter):
        self.retriever = retriever
        self.answerer = answerer
        self.abstain_threshold = calibrated_threshold() if abstain_threshold is None else abstain_threshold
        self.condenser = condenser or condense.rule_based
        self.clock = clock

    @classmethod
    def from_settings(cls, settings, index=None) -> "AnswerEngine":
        from assistant.answerers import make_answerer
        from index.store import ArticleIndex

        index = index or ArticleIndex.from_settings(settings)
        index.check_embeddings()  # before any model loads: a mismatched index fails at once
        answerer = make_answerer(settings, index.embeddings)
        condenser = None
        if getattr(answerer, "chat", None) is not None:
            chat = answerer.chat
            condenser = lambda question, history: condense.with_llm(question, history, chat)  # noqa: E731
        retriever = HybridRetriever(index=index, k=settings.top_k, fetch_k=settings.fetch_k, lexical_weight=settings.lexical_weight,
                                    lexical_max_terms=settings.lexical_max_terms)
        return cls(retriever, answerer, settings.abstain_threshold, condenser)

    def close(self) -> None:
        """Release what outlives a call: the answer worker processes, if any, and the embedding thread."""
        for part in (self.answerer, self.retriever):
            close = getattr(part, "close", None)
            if close is not None:
                close()

    def warm_up(self) -> None:
        """Load the models now (server start) rather than on the first question."""
        self.ask("warm up")

    def ask(self, question: str, history: list | None = None, k: int | None = None, filters: Filters | None = None) -> dict:
        result = None
        for event in self.stream(question, history, k, filters):
            if event["event"] == "answer":
                result = event["data"]
        return result

    def stream(self, question: str, history: list | None = None, k: int | None = None,
               filters: Filters | None = None) -> Iterator[dict]:
        """Events: `rewrite` (standalone question), `token` (answer text pieces), and last `answer`."""
        question = (question or "").strip()
        if not question:
            raise BadInput("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        if k is not None and not 1 <= k <= 50:
            raise BadInput("k must be between 1 and 50")
        timings: dict[str, float] = {}
        started = self.clock()

        mark = self.clock()
        standalone = self.condenser(question, history) if history else question
        timings["condense_ms"] = (self.clock() - mark) * 1000
        yield {"event": "rewrite", "standalone_question": standalone}

        mark = self.clock()
        vector, passages, timings["embed_ms"] = self.retriever.retrieve(standalone, k=k, filters=filters)
        timings["retrieve_ms"] = (self.clock() - mark) * 1000  # the embedding included: it overlaps lexical search

        mark = self.clock()
        draft: Draft | None = None
        live = self.answerer.mode != "extractive"  # an extractive answer is whole at once: send it after the abstain check
        for piece in self.answerer.stream(standalone, passages, vector):
            if isinstance(piece, Draft):
                draft = piece
            elif live:
                yield {"event": "token", "text": piece}
        timings["answer_ms"] = (self.clock() - mark) * 1000
        timings["total_ms"] = (self.clock() - started) * 1000
        result = self._contract(question, standalone, passages, draft, timings)
        if not live:
            yield {"event": "token", "text": result["answer"]}
        yield {"event": "answer", "data": result}

    def _contract(self, question: str, standalone: str, passages: list[Document], draft: Draft, timings: dict) -> dict:
        abstained = draft.abstained or not draft.evidence or draft.confidence < self.abstain_threshold
        citations = [] if abstained else [
            citation(n, passages[e.passage], e.start, e.end, e.text) for n, e in enumerate(draft.evidence, 1)
        ]
        return {
            "question": question,
            "standalone_question": standalone,
            "answer": NOT_FOUND if abstained else draft.answer,
            "short_answer": None if abstained else draft.short_answer,
            "abstained": abstained,
            "confidence": round(float(draft.confidence), 4),
            "citations": citations,
            "mode": self.answerer.mode,
            "timings": {name: round(value, 2) for name, value in timings.items()},
        }
