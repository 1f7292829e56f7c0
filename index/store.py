"""The article index: the catalog (documents, passages, lexical index; SQLite or PostgreSQL, see
`index/catalog/`) and Chroma (vectors), kept consistent through crashes.

Write order for a batch of articles:
  1. catalog: record (doc_id, new version) as pending vectors;
  2. Chroma: upsert the new version's passages (ids carry the version, so old passages are untouched);
  3. catalog, one transaction per article: swap in the new passages and lexical entries, and mark the
     old version's vectors pending removal;
  4. Chroma: delete pending versions that are not committed, then clear them from the journal.
A `kill -9` anywhere leaves, at worst, Chroma vectors whose version the catalog does not commit:
queries never see them (dense hits are joined to committed passages) and the next `reconcile()`
(run at the start of every ingest) deletes them.

Writers take an exclusive lock (a thread lock plus the catalog's writer lock: `flock` on a file
beside a SQLite catalog, an advisory lock in PostgreSQL), so a server upload and a command-line
ingest, or two app replicas, cannot reconcile away each other's in-flight vectors. Readers never
wait for it.

Where ingest time goes is reported through `on_stage(stage, seconds)`, once per timed step of
`add`: "chunk" (per article), "embed", "vectors" (Chroma) and "catalog" (per article).
`bench/perf.py` adds these up; the default, None, costs nothing.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from index.catalog import Catalog, open_catalog
from index.chunker import chunk_article
from index.documents import Article, Passage
from index import owner
from index.text import repair_wire_text
from index.vectors import VectorStore, open_store

EMBEDDING_KEY = "embedding_model"  # catalog meta: the model whose vectors the index holds
REBUILDING = "rebuilding:"  # its value's prefix while `reembed` runs
INGEST_STAGES = ("chunk", "embed", "vectors", "catalog")  # the stages `on_stage` is told about, in order


@dataclass
class Filters:
    sources: list[str] | None = None
    published_from: str | None = None  # ISO dates, inclusive
    published_to: str | None = None
    # The date the question is asked on (ISO): no filter, but the retriever prefers articles published
    # shortly before it when the question asks about "this week" (see assistant/retriever.py). None: today.
    as_of: str | None = None

    def as_kwargs(self) -> dict:
        """What the catalog and the vector store filter on (`as_of` ranks; it filters nothing)."""
        return {"sources": self.sources, "published_from": self.published_from, "published_to": self.published_to}

    def within(self, published_from: str, published_to: str) -> "Filters":
        """These filters narrowed to a date range: the later start, the earlier end."""
        start = max(filter(None, (self.published_from, published_from)))
        end = min(filter(None, (self.published_to, published_to)))
        return Filters(self.sources, start, end, self.as_of)


@dataclass
class Outcome:
    doc_id: str
    title: str
    status: str  # added | replaced | unchanged
    passages: int


@dataclass
class Consistency:
    """Catalog against vector index: every committed passage needs its vector, and nothing more."""

    passages: int  # committed passages in the catalog
    vectors: int  # vectors in Chroma
    missing: list[str]  # committed passages without a vector
    orphaned: list[str]  # vectors of no committed passage
    pending: int  # journal rows of an unfinished write

    @property
    def ok(self) -> bool:
        return not self.missing and not self.orphaned

    def line(self) -> str:
        if self.ok:
            return f"consistent: {self.passages} passages, {self.vectors} vectors"
        return (f"inconsistent: {len(self.missing)} of {self.passages} passages have no vector, {len(self.orphaned)} "
                "vectors belong to no passage; run `python app.py repair`")

    def as_dict(self, sample: int = 10) -> dict:
        return {"ok": self.ok, "passages": self.passages, "vectors": self.vectors, "missing": len(self.missing),
                "orphaned": len(self.orphaned), "pending": self.pending,
                "missing_sample": self.missing[:sample], "orphaned_sample": self.orphaned[:sample]}


class ArticleIndex:
    def __init__(self, catalog: Catalog, vectors: VectorStore, embeddings,
                 passage_sentences: int = 4, passage_overlap: int = 1, passage_max_chars: int = 900,
                 claim: owner.Claim | None = None, on_stage: Callable[[str, float], None] | None = None):
        self.claim = claim  # this process's hold on an embedded data directory
        self.on_stage = on_stage  # told (stage, seconds) for each timed step of `add`; see INGEST_STAGES
        self.catalog = catalog
        self.vectors = vectors
        self.embeddings = embeddings
        self.chunking = {"sentences_per_passage": passage_sentences, "overlap": passage_overlap, "max_chars": passage_max_chars}
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive across threads and processes sharing the data directory; re-entrant in a thread."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            with self.catalog.writer_lock():
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        if self.on_stage is None:
            yield
            return
        started = time.perf_counter()
        try:
            yield
        finally:
            self.on_stage(name, time.perf_counter() - started)

    @classmethod
    def from_settings(cls, settings, embeddings=None,
                      on_stage: Callable[[str, float], None] | None = None) -> "ArticleIndex":
        """Open the index. An embedded one is held by this process until `close()` (or exit); it
        raises DataDirBusy when another process holds it (see `index/owner.py`)."""
        from index.embeddings import make_embeddings

        data_dir = Path(settings.data_dir)
        claim = None if settings.chroma_host else owner.claim(data_dir)
        catalog = None
        try:
            catalog = open_catalog(data_dir, settings.database_url, settings.database_pool_size)
            return cls(
                catalog,
                open_store(settings.collection, data_dir, settings.chroma_host, settings.chroma_port),
                embeddings or make_embeddings(settings),
                settings.passage_sentences,
                settings.passage_overlap,
                settings.passage_max_chars,
                claim=claim,
                on_stage=on_stage,
            )
        except BaseException:
            if catalog is not None:
                catalog.close()
            if claim is not None:
                owner.release(claim)
            raise

    def close(self) -> None:
        """Let go of the data directory, so another process may open it."""
        self.catalog.close()
        self.vectors.close()
        if self.claim is not None:
            owner.release(self.claim)
            self.claim = None

    # --- writing ------------------------------------------------------------------------------

    def reconcile(self) -> int:
        """Remove vectors left by an interrupted write. Returns how many (doc, version) pairs were cleaned."""
        with self.writing():
            cleaned = 0
            for doc_id, version in self.catalog.pending():
                if self.catalog.committed_version(doc_id) != version:
                    self.vectors.delete_version(doc_id, version)
                self.catalog.clear_pending(doc_id, version)
                cleaned += 1
            return cleaned

    def add(self, articles: Iterable[Article]) -> list[Outcome]:
        """Index a batch of articles; unchanged ones cost one catalog look-up and nothing else."""
        with self.writing():
            return self._add(articles)

    def check_embeddings(self) -> None:
        """Refuse to mix two embedding models in one index: their vectors are not comparable, and
        one of another dimension would only fail later inside Chroma. The first write records the
        model; an index written before models were recorded adopts the current one. Read on every
        query (a point read in SQLite): another process may re-embed the index meanwhile."""
        current = getattr(self.embeddings, "identity", None)
        recorded = self.catalog.get_meta(EMBEDDING_KEY)
        if current and not recorded:  # two processes may both find none: the first to record wins
            recorded = self.catalog.set_meta_if_absent(EMBEDDING_KEY, current)
        if recorded and recorded.startswith(REBUILDING):
            raise ConfigError(f"re-embedding the index in {self.catalog.location} with {recorded[len(REBUILDING):]!r} "
                              "was interrupted: run `python app.py reindex` again to finish it")
        if current and recorded and current != recorded:
            raise ConfigError(
                f"the index in {self.catalog.location} was built with the embedding model {recorded!r}, but the "
                f"settings name {current!r}, whose vectors cannot be compared with it. Set embedding_model "
                f"(NEWSQA_EMBEDDING_MODEL) back to {recorded!r}, or re-embed the stored articles with "
                "`python app.py reindex`, or ingest into a new --data-dir."
            )

    def reembed(self, batch_documents: int = 64, progress=None) -> int:
        """Recompute every stored passage's vector with the current embedding model, from the texts
        the catalog keeps (no source files needed). Returns the passage count.

        While it runs the index is marked as rebuilding, and queries and ingests refuse it; if it is
        interrupted, running it again starts over and finishes, so the index is never left mixed."""
        current = getattr(self.embeddings, "identity", None) or type(self.embeddings).__name__
        with self.writing():
            self.reconcile()
            self.catalog.set_meta(EMBEDDING_KEY, REBUILDING + current)
            self.vectors.reset()
            done = 0
            for batch in self.catalog.document_batches(batch_documents):
                texts = [self.embedding_text(doc["title"], p) for doc, passages in batch for p in passages]
                self._store_vectors([(passages, doc) for doc, passages in batch], self._encode(texts))
                done += len(texts)
                if progress:
                    progress(done)
            self.catalog.set_meta(EMBEDDING_KEY, current)
            return done

    def _store_vectors(self, groups: list[tuple[list[Passage], dict]], vectors: np.ndarray) -> None:
        """Each group's passages with its metadata, taking their rows of `vectors` in order, in one
        upsert: Chroma pays per call, and one per article was most of its share of ingest. Every
        article of the batch is marked pending first, so a crash inside the upsert is cleaned up as
        before (`reconcile`)."""
        passages = [p for group, _ in groups for p in group]
        metadata = [meta for group, meta in groups for _ in group]
        self.vectors.add_rows(passages, vectors[: len(passages)], metadata)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if hasattr(self.embeddings, "encode"):
            return self.embeddings.encode(texts)
        return np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)

    def _add(self, articles: Iterable[Article]) -> list[Outcome]:
        self.check_embeddings()
        latest: dict[str, Article] = {}
        for article in articles:
            latest[article.doc_id] = article  # the same identity twice in a batch: the last one wins
        outcomes: list[Outcome] = []
        work: list[tuple[Article, str | None, list[Passage]]] = []
        for article in latest.values():
            committed = self.catalog.committed_version(article.doc_id)
            if committed == article.version:
                outcomes.append(Outcome(article.doc_id, article.title, "unchanged", 0))
                continue
            with self._stage("chunk"):
                passages = chunk_article(article, **self.chunking)
            work.append((article, committed, passages))
        if not work:
            return outcomes

        texts = [self.embedding_text(article.title, p) for article, _, passages in work for p in passages]
        with self._stage("embed"):
            vectors = self._encode(texts)

        for article, _, _ in work:
            self.catalog.mark_pending(article.doc_id, article.version)
        with self._stage("vectors"):
            self._store_vectors([(passages, article.metadata()) for article, _, passages in work], vectors)
        for article, committed, passages in work:
            with self._stage("catalog"):
                self.catalog.commit_document(article, passages, committed)
            outcomes.append(Outcome(article.doc_id, article.title, "replaced" if committed else "added", len(passages)))
        self.reconcile()
        return outcomes

    def add_passages(self, items: Iterable[tuple[Article, list[Passage]]], vectors: np.ndarray,
                     batch: int = 4000) -> int:
        """Index articles already cut into passages, with vectors computed elsewhere (row i of
        `vectors` for the i-th passage, in order; for the model the index records, from
        `embedding_text`). For padding a benchmark index to ~200,000 passages with reused vectors,
        where embedding them would take hours on 2 cores. Same crash-safe write order as `add`, but
        one Chroma upsert per `batch` passages instead of one per article (20,000 passages: 22 s
        instead of 57 s). Returns the number of passages written."""
        items = [(article, list(passages)) for article, passages in items]
        rows = [(meta, p) for article, passages in items for meta in [article.metadata()] for p in passages]
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) != len(rows):
            raise ValueError(f"{len(vectors)} vectors for {len(rows)} passages: give one vector per passage, in order")
        with self.writing():
            self.check_embeddings()
            committed = {article.doc_id: self.catalog.committed_version(article.doc_id) for article, _ in items}
            for article, _ in items:
                self.catalog.mark_pending(article.doc_id, article.version)
            for start in range(0, len(rows), batch):
                part = rows[start : start + batch]
                self.vectors.add_rows([p for _, p in part], vectors[start : start + batch], [meta for meta, _ in part])
            for article, passages in items:
                self.catalog.commit_document(article, passages, committed[article.doc_id])
            self.reconcile()
        return len(rows)

    @staticmethod
    def embedding_text(title: str, passage: Passage) -> str:
        return f"{title}\n{repair_wire_text(passage.text)}"

    def delete(self, doc_id: str) -> bool:
        with self.writing():
            version = self.catalog.delete_document(doc_id)
            self.reconcile()
        return version is not None

    # --- consistency ---------------------------------------------------------------------------

    def check(self) -> Consistency:
        """Compare the catalog's committed passages with the vectors Chroma holds, id by id."""
        passages = self.catalog.passage_ids()
        vectors = set(self.vectors.ids())
        return Consistency(len(passages), len(vectors), sorted(passages - vectors), sorted(vectors - passages),
                           len(self.catalog.pending()))

    def repair(self, batch: int = 256, progress=None) -> dict:
        """Make the vector index match the catalog: re-embed committed passages that have no vector
        (from the texts the catalog keeps) and delete vectors of no committed passage."""
        with self.writing():
            self.check_embeddings()
            self.reconcile()
            found = self.check()
            if found.orphaned:
                self.vectors.delete_ids(found.orphaned)
            done = 0
            for i in range(0, len(found.missing), batch):
                rows = self.catalog.passages(found.missing[i : i + batch]).values()
                groups = [([Passage(r["doc_id"], r["version"], r["idx"], r["start"], r["end"], r["text"], r["sentences"])],
                           {"title": r["title"], "source": r["source"], "published": r["published"]}) for r in rows]
                texts = [self.embedding_text(meta["title"], passages[0]) for passages, meta in groups]
                if texts:
                    self._store_vectors(groups, self._encode(texts))
                done += len(texts)
                if progress:
                    progress(done)
            return {"reembedded": done, "deleted": len(found.orphaned), "after": self.check().as_dict()}

    # --- reading ------------------------------------------------------------------------------

    def generation(self) -> int:
        """A number that changes whenever the index does (an answer cache keys on it)."""
        return self.catalog.generation()

    def documents(self) -> list[dict]:
        return self.catalog.documents()

    def document(self, doc_id: str) -> dict | None:
        return self.catalog.document(doc_id)

    def is_empty(self) -> bool:
        return self.catalog.count()[0] == 0

    def health(self, full: bool = False) -> dict:
        """Counts from the catalog and Chroma, and where each lives (`backends`); raises StoreUnavailable
        when either cannot be reached.

        `index` compares the two counts (cheap), or with `full` every id (`check`). While a write
        is under way the counts may differ for a moment: that reads "writing", not inconsistent."""
        self.catalog.heartbeat()
        self.vectors.heartbeat()
        documents, passages = self.catalog.count()
        if full:
            consistency = self.check().as_dict()
        else:
            vectors, pending = self.vectors.count(), len(self.catalog.pending())
            consistency = {"ok": vectors == passages or bool(pending), "passages": passages, "vectors": vectors, "pending": pending}
        state = "consistent" if consistency["ok"] and not consistency["pending"] else ("writing" if consistency["ok"] else
                "inconsistent: run `python app.py check`, then `python app.py repair`")
        return {"documents": documents, "passages": passages, "embedding_model": self.catalog.get_meta(EMBEDDING_KEY),
                "index": {"state": state, **consistency},
                "backends": {"catalog": self.catalog.describe(), "vectors": self.vectors.describe()}}

    def dense_search(self, vector: np.ndarray, limit: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        self.check_embeddings()
        return self.vectors.search(vector, limit, **(filters or Filters()).as_kwargs())

    def lexical_search(self, query: str, limit: int, filters: Filters | None = None,
                       max_terms: int = 0) -> list[tuple[str, float]]:
        return self.catalog.lexical_search(query, limit, max_terms=max_terms, **(filters or Filters()).as_kwargs())

    def passages(self, passage_ids: Iterable[str]) -> dict[str, dict]:
        """Committed passages only: ids of half-written or replaced versions are dropped here."""
        return self.catalog.passages(passage_ids)
