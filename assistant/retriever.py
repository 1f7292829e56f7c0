"""Hybrid retrieval as a LangChain `BaseRetriever`: dense (Chroma) and lexical (BM25) candidates
fused by a weighted sum of their normalised scores, near-identical passages collapsed.

`retrieve` and `search` return `RetrievedPassage`s, the one passage shape of the answering stage;
LangChain's `Document` is made only here, for LangChain callers (`invoke`).

Why hybrid: MiniLM alone ranks "Selo added that he believed..." above "SDF spokesman Talal Selo told
Reuters..." for "Who is Talal Selo?"; lexical matching on the rare name finds the right one. Score fusion rather than reciprocal-rank
fusion, because BM25's margin carries that signal: the one passage naming "Talal" scores 8x the
others, which rank fusion would flatten to "first of twenty".
"""

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from assistant.answering.base import RetrievedPassage
from assistant.rerank import Candidate, Reranker
from core.errors import BadInput
from index.store import ArticleIndex, Filters
from index.text import content_tokens


def weighted_fusion(dense: list[tuple[str, float]], lexical: list[tuple[str, float]], lexical_weight: float = 0.5) -> dict[str, float]:
    """Dense cosine scores min-max scaled, BM25 scores divided by the best; a missing score counts 0."""
    scores: dict[str, float] = {}
    if dense:
        values = [score for _, score in dense]
        low, high = min(values), max(values)
        for pid, score in dense:
            scores[pid] = (1 - lexical_weight) * ((score - low) / (high - low) if high > low else 1.0)
    if lexical:
        best = max(score for _, score in lexical)
        for pid, score in lexical:
            scores[pid] = scores.get(pid, 0.0) + lexical_weight * (score / best if best > 0 else 0.0)
    return scores


# Words that ask about the news of the moment. "new" and "now" only in lower case: "New York",
# "New Zealand" and a sentence-initial "Now" say nothing about time. A bare weekday ("arrested
# Monday", "won on Sunday") is how news copy says "in the last few days".
_TIME_WORDS = re.compile(
    r"\b(?:(?:this|last|past|previous)\s+(?:week|weekend|month)|this\s+(?:morning|afternoon|evening)"
    r"|latest|recent|recently|newly|yesterday|today|tonight|currently|so\s+far|upcoming)\b", re.IGNORECASE)
_LOWER_TIME_WORDS = re.compile(r"\b(?:new|now)\b")
_WEEKDAYS = re.compile(r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


def asks_about_recent_news(question: str, weekdays: bool = True) -> bool:
    """True when the wording asks about the news of the moment ("this week", "latest", "recently",
    "yesterday", "today", "last week", "this month", "new", "now", a bare weekday, ...)."""
    return bool(_TIME_WORDS.search(question) or _LOWER_TIME_WORDS.search(question)
                or (weekdays and _WEEKDAYS.search(question)))


def parse_as_of(value: str | None, today: Callable[[], date] = date.today) -> date:
    """The question's date: an ISO date (a datetime's date part is used), or today when none is given."""
    if not value:
        return today()
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise BadInput(f"as_of {value!r} is not an ISO date: give it as YYYY-MM-DD") from None


def news_time_adjustment(published: str | None, as_of: date, wants_recent: bool, *, boost: float = 0.3,
                         tiebreak: float = 0.02, window_days: int = 10, after_days: int = 1,
                         half_life_days: float = 30.0) -> float:
    """What to add to a passage's fused score (0..1) for its article's publication date.

    Why: RealTime QA's weekly quizzes ("... this week ...") asked over all ten weeks' articles in one
    pool find a passage holding the answer in the top 5 for only 0.374 of the questions, because
    last month's story on the same people outranks this week's. Measured with each question's own
    date as `as_of` (`python -m bench.retrieval --index-dir DIR`, 54,401 passages, 294 questions,
    load average 3-5 on 2 cores): recall@5 0.388 without it, 0.391 with the tie-break alone, 0.401
    with the boost over the usual candidates, 0.408 with the boost, the recent window's own
    candidates (`recency_pool`) and the tie-break (the default; 20-28 ms a question against 13-16
    ms). A hard window (only recent articles, the rest as fallback) reached 0.391; a boost of 1.0, 0.388.
    The time preference is not the main gap: a perfect re-ordering of the fused top 40 would
    reach 0.578.

    - When the question asks about recent news (`asks_about_recent_news`), an article published in
      the `window_days` before `as_of` (or up to `after_days` after it, for time zones and late
      stamps) gains `boost`. Nothing is taken from the others, so where nothing is recent the
      ranking stays as it was.
    - Always, a tie-break of at most `tiebreak / 2` either way: fresher (published closer to `as_of`,
      halving every `half_life_days`) wins among near-equal passages; an article from after that
      counts as the stalest.
    - An article of unknown date gets 0: no boost, and the middle of the tie-break. A collection
      without dates is ranked exactly as without this adjustment.
    """
    if not published:
        return 0.0
    try:
        day = date.fromisoformat(published[:10])
    except ValueError:
        return 0.0
    age = (as_of - day).days
    future = age < -after_days
    freshness = 0.0 if future else 0.5 ** (max(age, 0) / half_life_days)
    adjustment = tiebreak * (freshness - 0.5)
    if wants_recent and not future and age <= window_days:
        adjustment += boost
    return adjustment


@dataclass
class TimePlan:
    """How one question is ranked in time: its date, whether its wording asks for recent news, and
    (when it does) the filters of the recent window, searched beside the unfiltered indexes."""

    as_of: date
    wants_recent: bool
    window: Filters | None


def _near_duplicate(a: set[str], b: set[str], threshold: float = 0.9) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= threshold


class HybridRetriever(BaseRetriever):
    """`recency` says how a question's date counts (see `news_time_adjustment`): "boost" (a soft
    score boost for the recent window, the default), "window" (only the recent window, filled from
    the rest when it holds fewer than k passages) or "off". `recency_pool` also searches the recent
    window itself (BM25 filtered by date, and the dense top `fetch_k * recency_depth`), so a recent
    passage outside the unfiltered top `fetch_k` can still be boosted."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: ArticleIndex
    k: int = 5
    fetch_k: int = 20
    lexical_weight: float = 0.5
    lexical_max_terms: int = 0
    recency: Literal["boost", "window", "off"] = "boost"
    recency_boost: float = 0.3
    recency_tiebreak: float = 0.02
    recency_window_days: int = 10
    recency_pool: bool = True
    recency_depth: int = 8  # the recent window's dense hits are looked for in the unfiltered top fetch_k * this
    wants_recent: Callable[[str], bool] = asks_about_recent_news  # does this wording ask for recent news?
    reranker: Reranker | None = None  # orders the candidates (assistant/rerank.py); None keeps the fused order
    rerank_depth: int = 60  # candidates taken from each index when reranking
    today: Callable[[], date] = date.today
    _embedder: ThreadPoolExecutor | None = PrivateAttr(default=None)
    _embedder_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def embed_question(self, question: str) -> np.ndarray:
        embeddings = self.index.embeddings
        if hasattr(embeddings, "encode"):
            return embeddings.encode([question])[0]
        return np.asarray(embeddings.embed_query(question), dtype=np.float32)

    def _embedding_pool(self) -> ThreadPoolExecutor:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = ThreadPoolExecutor(max_workers=4, thread_name_prefix="embed-question")
            return self._embedder

    def close(self) -> None:
        with self._embedder_lock:
            if self._embedder is not None:
                self._embedder.shutdown(wait=False)
                self._embedder = None

    def _timed_embedding(self, question: str) -> tuple[np.ndarray, float]:
        started = time.perf_counter()
        vector = self.embed_question(question)
        return vector, (time.perf_counter() - started) * 1000

    def time_plan(self, question: str, filters: Filters | None = None) -> TimePlan:
        """The question's date (`filters.as_of`, else today) and whether its wording wants recent news."""
        as_of = parse_as_of(filters.as_of if filters else None, self.today)
        wants_recent = self.recency != "off" and self.wants_recent(question)
        window = None
        if wants_recent and (self.recency == "window" or self.recency_pool):
            start = (as_of - timedelta(days=self.recency_window_days)).isoformat()
            window = (filters or Filters()).within(start, (as_of + timedelta(days=1)).isoformat())
        return TimePlan(as_of, wants_recent, window)

    def retrieve(self, question: str, k: int | None = None,
                 filters: Filters | None = None) -> tuple[np.ndarray, list[RetrievedPassage], float]:
        """`search` with the question embedded on another thread while lexical search runs here:
        torch and SQLite both release the GIL, so on two cores the two overlap. Returns the question
        vector (the extractive answerer reuses it), the passages, and the embedding's own ms."""
        plan = self.time_plan(question, filters)
        pending = self._embedding_pool().submit(self._timed_embedding, question)
        lexical = self._lexical(question, k, filters, plan)
        vector, embed_ms = pending.result()
        return vector, self._fuse(question, vector, lexical, k, filters, plan), embed_ms

    def search(self, question: str, k: int | None = None, filters: Filters | None = None,
               question_vector: np.ndarray | None = None) -> list[RetrievedPassage]:
        """Fused, de-duplicated passages, best first, each with its metadata and scores."""
        plan = self.time_plan(question, filters)
        if question_vector is None:
            question_vector = self.embed_question(question)
        lexical = self._lexical(question, k, filters, plan)
        return self._fuse(question, question_vector, lexical, k, filters, plan)

    def _fetch(self, k: int | None) -> int:
        return max(self.fetch_k, k or self.k, self.rerank_depth if self.reranker else 0)

    def _lexical(self, question: str, k: int | None, filters: Filters | None,
                 plan: TimePlan) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """BM25 hits over the filters, and over the recent window when the plan has one."""
        fetch = self._fetch(k)
        hits = self.index.lexical_search(question, fetch, filters, self.lexical_max_terms)
        recent = self.index.lexical_search(question, fetch, plan.window, self.lexical_max_terms) if plan.window else []
        return hits, recent

    def _dense(self, vector: np.ndarray, fetch: int, filters: Filters | None,
               plan: TimePlan) -> tuple[list[tuple[str, float]], list[tuple[str, float]], dict[str, dict]]:
        """Dense hits over the filters, the recent window's among them, and the passages looked up.

        The recent window's hits are the in-window passages of the unfiltered top `fetch *
        recency_depth`, not a filtered Chroma query: on 54,401 passages that query took 106 ms a
        question (Chroma scans its metadata for the date range), the wider unfiltered one 2-4 ms."""
        if not plan.window:
            return self.index.dense_search(vector, fetch, filters), [], {}
        wide = self.index.dense_search(vector, max(fetch, self.fetch_k * self.recency_depth), filters)
        known = self.index.passages(pid for pid, _ in wide)
        start, end = plan.window.published_from, plan.window.published_to
        recent = [(pid, score) for pid, score in wide
                  if pid in known and start <= (known[pid]["published"] or "") <= end][:fetch]
        return wide[:fetch], recent, known

    def _reranked(self, question: str, question_vector: np.ndarray, plan: TimePlan, pool: list[str], passages: dict[str, dict],
                  dense_scores: dict[str, float], lexical_scores: dict[str, float]) -> dict[str, float]:
        """The reranker's score of every candidate. Passages only lexical search found get their
        cosine from their stored vectors."""
        missing = [pid for pid in pool if pid not in dense_scores]
        cosines = dict(dense_scores)
        if missing:
            unit = question_vector / (np.linalg.norm(question_vector) or 1.0)
            for pid, vector in self.index.vectors.vectors(missing).items():
                cosines[pid] = float(vector @ unit / (np.linalg.norm(vector) or 1.0))
        candidates = {pid: Candidate(passages[pid]["text"], cosines.get(pid, 0.0), lexical_scores.get(pid, 0.0),
                                     passages[pid]["published"]) for pid in pool}
        return self.reranker.rank(question, candidates, None if self.recency == "off" else plan.as_of)

    def _fuse(self, question: str, question_vector: np.ndarray, lexical: tuple[list[tuple[str, float]], list[tuple[str, float]]],
              k: int | None, filters: Filters | None, plan: TimePlan) -> list[RetrievedPassage]:
        k = k or self.k
        lexical_all, lexical_recent = lexical
        dense, dense_recent, known = self._dense(question_vector, self._fetch(k), filters, plan)
        hard = self.recency == "window" and plan.window is not None
        if hard:  # the recent window's own ranking first, then the rest as the fallback
            fused = weighted_fusion(dense, lexical_all, self.lexical_weight)
            recent = weighted_fusion(dense_recent, lexical_recent, self.lexical_weight)
            fused.update(recent)
        else:
            recent = {}
            fused = weighted_fusion(_merged(dense, dense_recent), _merged(lexical_all, lexical_recent), self.lexical_weight)
        dense_scores, lexical_scores = dict(_merged(dense, dense_recent)), dict(_merged(lexical_all, lexical_recent))
        passages = {**known, **self.index.passages(pid for pid in fused if pid not in known)}  # committed only
        if self.reranker is not None:
            ranked = self._reranked(question, question_vector, plan, [pid for pid in fused if pid in passages], passages,
                                    dense_scores, lexical_scores)
        else:
            boost = 0.0 if hard else self.recency_boost
            tiebreak = 0.0 if self.recency == "off" else self.recency_tiebreak
            ranked = {pid: fused[pid] + news_time_adjustment(passages[pid]["published"], plan.as_of, plan.wants_recent,
                                                             boost=boost, tiebreak=tiebreak, window_days=self.recency_window_days)
                      for pid in fused if pid in passages}
        order = sorted(ranked, key=lambda pid: (pid not in recent, -ranked[pid]))  # stable: ties keep dense-first order
        kept: list[RetrievedPassage] = []
        kept_terms: list[set[str]] = []
        for pid in order:
            item = passages[pid]
            terms = set(content_tokens(item["text"]))
            if any(_near_duplicate(terms, seen) for seen in kept_terms):
                continue
            kept_terms.append(terms)
            kept.append(RetrievedPassage(
                passage_id=item["passage_id"], doc_id=item["doc_id"], title=item["title"], source=item["source"],
                published=item["published"], text=item["text"], start=item["start"], sentences=item["sentences"],
                score=fused[pid], index=item["idx"], dense_score=dense_scores.get(pid), lexical_score=lexical_scores.get(pid)))
            if len(kept) >= k:
                break
        return self._with_articles(kept)

    def _with_articles(self, kept: list[RetrievedPassage]) -> list[RetrievedPassage]:
        """Each passage with its whole article's text: a check of the question's names reads the article,
        not only the passages retrieved of it ("MVP" said in another paragraph of the Super Bowl story)."""
        texts = {doc_id: (self.index.document(doc_id) or {}).get("text") for doc_id in dict.fromkeys(p.doc_id for p in kept)}
        return [replace(p, article=texts[p.doc_id]) for p in kept]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: Filters | None = None) -> list[Document]:
        return [as_document(p) for p in self.search(query, k=k, filters=filters)]


def _merged(*hit_lists: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Hit lists of one index joined, best score per passage (the scores of one index are comparable:
    cosine, and BM25 with corpus-wide statistics, filtered or not)."""
    best: dict[str, float] = {}
    for hits in hit_lists:
        for pid, score in hits:
            if pid not in best or score > best[pid]:
                best[pid] = score
    return sorted(best.items(), key=lambda hit: -hit[1])


def as_document(passage: RetrievedPassage) -> Document:
    """A passage as LangChain sees it: the text as `page_content`, everything else as metadata."""
    metadata = {"passage_id": passage.passage_id, "doc_id": passage.doc_id, "title": passage.title,
                "source": passage.source, "published": passage.published, "start": passage.start, "end": passage.end,
                "sentences": passage.sentences, "passage_index": passage.index, "score": passage.score,
                "dense_score": passage.dense_score, "lexical_score": passage.lexical_score}
    return Document(page_content=passage.text, metadata=metadata, id=passage.passage_id)
