"""The answer engine: condense the follow-up, retrieve, answer, cite. One call gives the typed
`Answer` (its `to_dict()` is the JSON contract) used by the chat page, the REST API, the
OpenAI-compatible API and `app.py ask`."""

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

from assistant import condense
from assistant.answering.base import NOT_FOUND, Answer, Answerer, Citation, Draft, RetrievedPassage
from assistant.answering.extractive.confidence import calibrated_threshold
from assistant.answering.factory import make_answerer
from assistant.rerank import Reranker
from assistant.retriever import HybridRetriever
from core.errors import BadInput
from core.settings import Settings
from index.store import ArticleIndex, Filters

MAX_QUESTION_CHARS = 2000  # also the bound on the rewritten (standalone) question that reaches retrieval and answering

# History bounds. The condensers read little of it (rule-based: the last question and answer; LLM:
# the last 6 turns), yet every edge sends whole conversations, and one 900 kB turn once became a
# 900 kB "standalone question" that crashed the spaCy worker.
MAX_HISTORY_TURNS = 20  # older turns are dropped, not refused: the chat page and `ask --follow-up` resend the whole chat
MAX_TURN_CHARS = 20_000  # 5x the longest turn our edges write back: a 256-token LLM answer plus /v1's "Sources:", ~4,000
MAX_HISTORY_CHARS = 100_000  # the kept turns together; 10 longest questions and 10 longest answers make 60,000


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


class AnswerEngine:
    """Parts are passed in (tests hand in fakes); `from_settings` builds the real ones.

    `abstain_threshold` None uses the one fitted with the extractive confidence (weights.json)."""

    def __init__(self, retriever: HybridRetriever, answerer: Answerer, abstain_threshold: float | None = None,
                 condenser=None, clock=time.perf_counter, cache_size: int = 0):
        self.retriever = retriever
        self.answerer = answerer
        if abstain_threshold is None:  # the answerer's own calibration (reader), else the extractive one
            abstain_threshold = getattr(answerer, "abstain_threshold", None) or calibrated_threshold()
        self.abstain_threshold = abstain_threshold
        self.condenser = condenser or condense.rule_based
        self.clock = clock
        self.cache = AnswerCache(cache_size)

    @classmethod
    def from_settings(cls, settings: Settings, index: ArticleIndex | None = None) -> "AnswerEngine":
        index = index or ArticleIndex.from_settings(settings)
        index.check_embeddings()  # before any model loads: a mismatched index fails at once
        answerer = make_answerer(settings, index.embeddings)
        # A reader or LLM answer costs a second or more; an extractive one less than the cache lookup saves.
        cache_size = settings.answer_cache_size if answerer.mode != "extractive" else 0
        condenser = None
        if getattr(answerer, "chat", None) is not None:
            chat = answerer.chat
            condenser = lambda question, history: condense.with_llm(question, history, chat)  # noqa: E731
        retriever = HybridRetriever(index=index, k=settings.top_k, fetch_k=settings.fetch_k, lexical_weight=settings.lexical_weight,
                                    lexical_max_terms=settings.lexical_max_terms,
                                    reranker=Reranker.for_model(settings.embedding_model) if settings.rerank else None, rerank_depth=settings.rerank_depth)
        return cls(retriever, answerer, settings.abstain_threshold, condenser, cache_size=cache_size)

    @property
    def index(self) -> ArticleIndex:
        """The index the engine answers from, for the edges' document and health routes."""
        return self.retriever.index

    def close(self) -> None:
        """Release what outlives a call: the answer worker processes, if any, and the embedding thread."""
        for part in (self.answerer, self.retriever):
            close = getattr(part, "close", None)
            if close is not None:
                close()

    def warm_up(self) -> None:
        """Load the models now (server start) rather than on the first question."""
        self.answer("warm up")

    def answer(self, question: str, history: list | None = None, k: int | None = None,
               filters: Filters | None = None) -> Answer:
        """The whole answer at once: `stream` run to its end."""
        result = None
        for event in self.stream(question, history, k, filters):
            if event["event"] == "answer":
                result = event["answer"]
        return result

    def ask(self, question: str, history: list | None = None, k: int | None = None, filters: Filters | None = None) -> dict:
        """`answer` as the JSON contract."""
        return self.answer(question, history, k, filters).to_dict()

    def stream(self, question: str, history: list | None = None, k: int | None = None,
               filters: Filters | None = None) -> Iterator[dict]:
        """Events: `rewrite` (standalone question), `token` (answer text pieces), and last `answer`,
        which carries the typed `Answer` that every edge renders.

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

        key = self.cache.key(getattr(self.retriever, "index", None), standalone, k, filters)
        if (hit := self.cache.get(key)) is not None:
            timings["total_ms"] = (self.clock() - started) * 1000
            answer = dataclasses.replace(hit, question=question, timings={**timings, "cached": 1.0})
            yield {"event": "token", "text": condense.with_short_answer(answer.answer, answer.short_answer)}
            yield {"event": "answer", "answer": answer}
            return

        mark = self.clock()
        vector, passages, timings["embed_ms"] = self.retriever.retrieve(standalone, k=k, filters=filters)
        timings["retrieve_ms"] = (self.clock() - mark) * 1000  # the embedding included: it overlaps lexical search

        mark = self.clock()
        draft: Draft | None = None
        # An LLM writes its answer piece by piece; the other answers are article sentences, whole at
        # once: they are sent after the abstain check.
        live = getattr(self.answerer, "live_text", False)
        for piece in self.answerer.stream(standalone, passages, vector):
            if isinstance(piece, Draft) and piece.provisional:  # the reader's evidence, before its short answer
                timings["evidence_ms"] = (self.clock() - started) * 1000
                shown = self._final(question, standalone, passages, piece, dict(timings), provisional=True)
                yield {"event": "evidence", "answer": shown}
            elif isinstance(piece, Draft):
                draft = piece
            elif live:
                yield {"event": "token", "text": piece}
        timings["answer_ms"] = (self.clock() - mark) * 1000
        timings["total_ms"] = (self.clock() - started) * 1000
        answer = self._final(question, standalone, passages, draft, timings)
        if answer.mode == self.answerer.mode:  # not an answer given without a busy reader
            self.cache.put(key, answer)
        if not live:  # the answer as text: its short answer first, the way a history carries it
            yield {"event": "token", "text": condense.with_short_answer(answer.answer, answer.short_answer)}
        yield {"event": "answer", "answer": answer}

    def _final(self, question: str, standalone: str, passages: list[RetrievedPassage], draft: Draft,
               timings: dict[str, float], provisional: bool = False) -> Answer:
        """The abstain decision, and citations for the evidence kept. A provisional answer (the
        reader's evidence, shown while it reads) has no short answer yet and is not yet judged."""
        abstained = draft.abstained or not draft.evidence or (not provisional and draft.confidence < self.abstain_threshold)
        citations = [] if abstained else [Citation.of(n, passages[e.passage], e) for n, e in enumerate(draft.evidence, 1)]
        return Answer(
            question=question,
            standalone_question=standalone,
            answer=NOT_FOUND if abstained else draft.answer,
            short_answer=None if abstained or provisional else draft.short_answer,
            abstained=abstained,
            confidence=draft.confidence,
            citations=citations,
            mode=draft.mode or self.answerer.mode,
            timings=timings,
        )


class AnswerCache:
    """Answers by (standalone question, k, filters, index generation), least recently used out first.
    The generation changes with every write to the index, so an answer never outlives its evidence."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def key(self, index, question: str, k: int | None, filters: Filters | None) -> tuple | None:
        if not self.size:
            return None
        generation = getattr(index, "generation", None)
        return (question, k, repr(filters), generation() if generation else None)

    def get(self, key: tuple | None) -> Answer | None:
        if key is None:
            return None
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
            return answer

    def put(self, key: tuple | None, answer: Answer) -> None:
        if key is None:
            return
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
