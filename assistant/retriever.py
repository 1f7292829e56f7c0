"""Hybrid retrieval as a LangChain `BaseRetriever`: dense (Chroma) and lexical (BM25) candidates
fused by a weighted sum of their normalised scores, near-identical passages collapsed.

`retrieve` and `search` return `RetrievedPassage`s, the one passage shape of the answering stage;
LangChain's `Document` is made only here, for LangChain callers (`invoke`).

Why hybrid: MiniLM alone ranks "Selo added that he believed..." above "SDF spokesman Talal Selo told
Reuters..." for "Who is Talal Selo?"; lexical matching on the rare name finds the right one. Score fusion rather than reciprocal-rank
fusion, because BM25's margin carries that signal: the one passage naming "Talal" scores 8x the
others, which rank fusion would flatten to "first of twenty".
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from assistant.answering.base import RetrievedPassage
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


def _near_duplicate(a: set[str], b: set[str], threshold: float = 0.9) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= threshold


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: ArticleIndex
    k: int = 5
    fetch_k: int = 20
    lexical_weight: float = 0.5
    lexical_max_terms: int = 0
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

    def retrieve(self, question: str, k: int | None = None,
                 filters: Filters | None = None) -> tuple[np.ndarray, list[RetrievedPassage], float]:
        """`search` with the question embedded on another thread while lexical search runs here:
        torch and SQLite both release the GIL, so on two cores the two overlap. Returns the question
        vector (the extractive answerer reuses it), the passages, and the embedding's own ms."""
        pending = self._embedding_pool().submit(self._timed_embedding, question)
        lexical = self.index.lexical_search(question, self._fetch(k), filters, self.lexical_max_terms)
        vector, embed_ms = pending.result()
        return vector, self._fuse(vector, lexical, k, filters), embed_ms

    def search(self, question: str, k: int | None = None, filters: Filters | None = None,
               question_vector: np.ndarray | None = None) -> list[RetrievedPassage]:
        """Fused, de-duplicated passages, best first, each with its metadata and scores."""
        if question_vector is None:
            question_vector = self.embed_question(question)
        lexical = self.index.lexical_search(question, self._fetch(k), filters, self.lexical_max_terms)
        return self._fuse(question_vector, lexical, k, filters)

    def _fetch(self, k: int | None) -> int:
        return max(self.fetch_k, k or self.k)

    def _fuse(self, question_vector: np.ndarray, lexical: list[tuple[str, float]], k: int | None,
              filters: Filters | None) -> list[RetrievedPassage]:
        k = k or self.k
        dense = self.index.dense_search(question_vector, self._fetch(k), filters)
        fused = weighted_fusion(dense, lexical, self.lexical_weight)
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        order = sorted(fused, key=fused.get, reverse=True)
        passages = self.index.passages(order)  # drops anything not committed
        kept: list[RetrievedPassage] = []
        kept_terms: list[set[str]] = []
        for pid in order:
            item = passages.get(pid)
            if item is None:
                continue
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
        return kept

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: Filters | None = None) -> list[Document]:
        return [as_document(p) for p in self.search(query, k=k, filters=filters)]


def as_document(passage: RetrievedPassage) -> Document:
    """A passage as LangChain sees it: the text as `page_content`, everything else as metadata."""
    metadata = {"passage_id": passage.passage_id, "doc_id": passage.doc_id, "title": passage.title,
                "source": passage.source, "published": passage.published, "start": passage.start, "end": passage.end,
                "sentences": passage.sentences, "passage_index": passage.index, "score": passage.score,
                "dense_score": passage.dense_score, "lexical_score": passage.lexical_score}
    return Document(page_content=passage.text, metadata=metadata, id=passage.passage_id)
