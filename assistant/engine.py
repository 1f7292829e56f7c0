"""The answer engine: condense the follow-up, retrieve, answer, cite. One call gives the answer
contract used by the chat page, the REST API, the OpenAI-compatible API and `app.py ask`."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

from langchain_core.documents import Document

from assistant import condense
from assistant.answerers import NOT_FOUND, Answerer, Draft
from core.errors import BadInput
from assistant.retriever import HybridRetriever
from index.store import Filters

CALIBRATION = Path(__file__).resolve().parent / "calibration.json"
MAX_QUESTION_CHARS = 2000  # also the bound on the rewritten (standalone) question that reaches retrieval and answering

# History bounds. The condensers read little of it (rule-based: the last question and answer; LLM:
# the last 6 turns), yet every edge sends whole conversations, and one 900 kB turn once became a
# 900 kB "standalone question" that crashed the spaCy worker.
MAX_HISTORY_TURNS = 20  # older turns are dropped, not refused: the chat page and `ask --follow-up` resend the whole chat
MAX_TURN_CHARS = 20_000  # 5x the longest turn our edges write back: a 256-token LLM answer plus /v1's "Sources:", ~4,000
MAX_HISTORY_CHARS = 100_000  # the kept turns together; 10 longest questions and 10 longest answers make 60,000


def calibrated_threshold() -> float:
    """The abstain threshold chosen on data by bench/extractive_dev.py (see calibration.json)."""
    try:
        return float(json.loads(CALIBRATION.read_text())["abstain_threshold"])
    except (OSError, KeyError, ValueError):
        return 0.0


def check_text(text: str, what: str) -> None:
    """Refuse a lone surrogate (JSON "\\ud800" with no partner) here, with a message, rather than as a
    500 where the text is first encoded as UTF-8. Not replaced by U+FFFD: no one types one, so it
    means a client cut a character in half, and searching for a silently changed question would hide that."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(f"{what} contains a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start + 1}), "
                       "which is not text: send the characters themselves, or a character beyond U+FFFF as a whole "
                       "surrogate pair") from None


def bounded_history(history: list | None) -> list[dict]:
    """The turns a condenser may read: only the most recent MAX_HISTORY_TURNS (older ones are dropped
    unread, so a long chat keeps working), each and all together within the character limits (past
    them the request is refused: cutting a turn could cut off the name a pronoun refers to)."""
    if not history:
        return []
    items = list(history)
    recent = condense.turns(items[-MAX_HISTORY_TURNS:])  # a [question, answer] pair is two turns
    dropped = len(items) > MAX_HISTORY_TURNS or len(recent) > MAX_HISTORY_TURNS
    recent = recent[-MAX_HISTORY_TURNS:]
    total = 0
    for n, turn in enumerate(recent, 1):
        where = f"history turn {n} of the last {len(recent)}" if dropped else f"history turn {n}"
        content = turn["content"]
        if len(content) > MAX_TURN_CHARS:
            raise BadInput(f"{where} is {len(content):,} characters long; the limit is {MAX_TURN_CHARS:,} characters "
                           "a turn: shorten that turn or leave it out")
        check_text(content, where)
        total += len(content)
    if total > MAX_HISTORY_CHARS:
        raise BadInput(f"the last {len(recent)} history turns hold {total:,} characters; the limit is "
                       f"{MAX_HISTORY_CHARS:,} characters: send fewer or shorter turns")
    return recent


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
        """Events: `rewrite` (standalone question), `token` (answer text pieces), and last `answer`.

        Every input is bounded here, so every edge gets the same limits: see `bounded_history`, and
        a rewrite that is empty or longer than MAX_QUESTION_CHARS is dropped for the question itself."""
        question = (question or "").strip()
        if not question:
            raise BadInput("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        check_text(question, "the question")
        if k is not None and not 1 <= k <= 50:
            raise BadInput("k must be between 1 and 50")
        for value in ([*(filters.sources or []), filters.published_from, filters.published_to] if filters else []):
            if isinstance(value, str):
                check_text(value, f"the filter value {value!r}")
        conversation = bounded_history(history)
        timings: dict[str, float] = {}
        started = self.clock()

        mark = self.clock()
        standalone = self.condenser(question, conversation) if conversation else question
        if not isinstance(standalone, str) or not standalone.strip() or len(standalone) > MAX_QUESTION_CHARS:
            standalone = question
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
