"""The catalog: a SQLite file that is the source of truth for what is in the index.

It holds the committed documents (with their full text, for citations), their passages, a BM25 lexical
index over the passages (FTS5; Chroma's own sparse index does not run in local mode), and a small
journal of Chroma writes that may need undoing after a crash. A document becomes visible to queries
in one SQLite transaction, so a half-written document is never seen; see `index/store.py`.
"""

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from index.catalog.base import sentences_of
from index.documents import Article, Passage
from index.locks import file_lock
from index.text import content_tokens, search_tokens

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT,
    author TEXT,
    subject TEXT,
    text TEXT NOT NULL,
    passages INTEGER NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS passages (
    rowid INTEGER PRIMARY KEY,
    passage_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(terms, tokenize='porter unicode61');
-- Chroma writes not yet matched by a committed catalog state: after a crash, `store.reconcile`
-- removes the passages of (doc_id, version) from Chroma unless that version is the committed one.
CREATE TABLE IF NOT EXISTS pending_vectors (
    doc_id TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (doc_id, version)
);
-- Facts about the whole index, such as which embedding model made its vectors.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class SQLiteCatalog:
    backend = "sqlite"

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.location = str(path)
        self._local = threading.local()
        self._total: tuple[float, int] | None = None  # (when counted, passages): see passage_total
        self._version_conn: sqlite3.Connection | None = None  # see data_version
        self._version_lock = threading.Lock()
        # Switching a new file to WAL needs a moment alone with it, and SQLite answers "database is
        # locked" at once (no busy wait) when another process does the same, so openers take turns.
        # WAL is then a property of the file; later connections need not set it. This is not the
        # writers' lock (ArticleIndex.writing), so opening never waits for an ingest to finish.
        with file_lock(path.with_suffix(".opening.lock")):
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        """One connection per thread: the server answers from a thread pool."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    # --- writes -------------------------------------------------------------------------------

    def writer_lock(self) -> AbstractContextManager[None]:
        return file_lock(self.path.with_suffix(".lock"))

    def committed_version(self, doc_id: str) -> str | None:
        row = self._conn().execute("SELECT version FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row["version"] if row else None

    def mark_pending(self, doc_id: str, version: str) -> None:
        self._conn().execute("INSERT OR IGNORE INTO pending_vectors VALUES (?, ?)", (doc_id, version))

    def commit_document(self, article: Article, passages: list[Passage], old_version: str | None) -> None:
        """Replace the document and its lexical entries in one transaction; the old version's
        vectors become pending removal in the same transaction."""
        with self._write() as conn:
            self._delete_rows(conn, article.doc_id)
            conn.execute(
                "INSERT INTO documents (doc_id, version, title, source, published, author, subject, text, passages)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (article.doc_id, article.version, article.title, article.source, article.published,
                 article.author, article.subject, article.text, len(passages)),
            )
            for passage in passages:
                cursor = conn.execute(
                    "INSERT INTO passages (passage_id, doc_id, idx, start, end, text, sentences) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (passage.passage_id, passage.doc_id, passage.index, passage.start, passage.end,
                     passage.text, passage.sentences_json()),
                )
                terms = " ".join(search_tokens(f"{article.title}\n{passage.text}"))
                conn.execute("INSERT INTO passages_fts (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, terms))
            conn.execute("DELETE FROM pending_vectors WHERE doc_id = ? AND version = ?", (article.doc_id, article.version))
            if old_version and old_version != article.version:
                conn.execute("INSERT OR IGNORE INTO pending_vectors VALUES (?, ?)", (article.doc_id, old_version))

    def delete_document(self, doc_id: str) -> str | None:
        """Remove a document from the catalog; its vectors become pending removal. Returns its version."""
        with self._write() as conn:
            row = conn.execute("SELECT version FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
            if row:
                self._delete_rows(conn, doc_id)
                conn.execute("INSERT OR IGNORE INTO pending_vectors VALUES (?, ?)", (doc_id, row["version"]))
        return row["version"] if row else None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE); the cached passage count is dropped."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            self._total = None

    @staticmethod
    def _delete_rows(conn: sqlite3.Connection, doc_id: str) -> None:
        conn.execute("DELETE FROM passages_fts WHERE rowid IN (SELECT rowid FROM passages WHERE doc_id = ?)", (doc_id,))
        conn.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def pending(self) -> list[tuple[str, str]]:
        return [(r["doc_id"], r["version"]) for r in self._conn().execute("SELECT doc_id, version FROM pending_vectors")]

    def clear_pending(self, doc_id: str, version: str) -> None:
        self._conn().execute("DELETE FROM pending_vectors WHERE doc_id = ? AND version = ?", (doc_id, version))

    def set_meta(self, key: str, value: str) -> None:
        self._conn().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Record `value` unless another writer got there first; returns what is recorded."""
        conn = self._conn()
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()["value"]

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    # --- reads --------------------------------------------------------------------------------

    def documents(self) -> list[dict]:
        rows = self._conn().execute(
            "SELECT doc_id, title, source, published, author, subject, passages, ingested_at FROM documents ORDER BY ingested_at, title"
        )
        return [dict(row) for row in rows]

    def document(self, doc_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return dict(row) if row else None

    def count(self) -> tuple[int, int]:
        conn = self._conn()
        docs = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        return docs, passages

    def document_batches(self, size: int) -> Iterator[list[tuple[dict, list[Passage]]]]:
        """Every committed document with its passages, rebuilt from the rows, `size` documents at a time."""
        conn = self._conn()
        doc_ids = [row[0] for row in conn.execute("SELECT doc_id FROM documents ORDER BY doc_id")]
        for i in range(0, len(doc_ids), size):
            chunk = doc_ids[i : i + size]
            marks = ",".join("?" * len(chunk))
            docs = {row["doc_id"]: dict(row) for row in conn.execute(
                f"SELECT doc_id, version, title, source, published FROM documents WHERE doc_id IN ({marks})", chunk)}
            passages: dict[str, list[Passage]] = {doc_id: [] for doc_id in docs}
            for row in conn.execute(f"SELECT doc_id, idx, start, end, text, sentences FROM passages WHERE doc_id IN ({marks})"
                                    " ORDER BY doc_id, idx", chunk):
                passages[row["doc_id"]].append(Passage(row["doc_id"], docs[row["doc_id"]]["version"], row["idx"], row["start"],
                                                       row["end"], row["text"], sentences_of(row["sentences"])))
            yield [(docs[doc_id], passages[doc_id]) for doc_id in chunk if doc_id in docs]

    def passage_total(self, max_age: float = 10.0) -> int:
        """The passage count for lexical search's term selection, recounted after this process
        writes or every `max_age` seconds (another process may write): counting 200k passages
        costs milliseconds, a large share of a question's lexical search."""
        cached = self._total
        if cached is None or time.monotonic() - cached[0] > max_age:
            count = self._conn().execute("SELECT count(*) FROM passages").fetchone()[0]
            self._total = cached = (time.monotonic(), count)
        return cached[1]

    def passage_ids(self) -> set[str]:
        return {row[0] for row in self._conn().execute("SELECT passage_id FROM passages")}

    def passages(self, passage_ids: Iterable[str]) -> dict[str, dict]:
        """Committed passages with their document's metadata, by id; ids not committed are absent."""
        ids = list(passage_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(
            "SELECT p.passage_id, p.doc_id, p.idx, p.start, p.end, p.text, p.sentences,"
            " d.title, d.source, d.published, d.version FROM passages p JOIN documents d USING (doc_id)"
            f" WHERE p.passage_id IN ({marks})",
            ids,
        )
        out = {}
        for row in rows:
            item = dict(row)
            item["sentences"] = sentences_of(item["sentences"])
            out[item["passage_id"]] = item
        return out

    def lexical_search(self, query: str, limit: int, sources: list[str] | None = None,
                       published_from: str | None = None, published_to: str | None = None,
                       max_terms: int = 0, common: float = 0.05, small: int = 10_000) -> list[tuple[str, float]]:
        """BM25 over passage terms: (passage_id, score) best first, score higher is better.

        `max_terms` > 0 searches only the rarest few question terms (see `_rare_terms`)."""
        terms = sorted(set(content_tokens(query)))
        if max_terms:
            terms = self._rare_terms(terms, max_terms, common, small)
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        conn = self._conn()
        if not (sources or published_from or published_to):
            # No filter: rank in the FTS table alone, then name the few winners.
            rows = conn.execute("SELECT rowid, rank FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rank LIMIT ?",
                                (match, limit)).fetchall()
            if not rows:
                return []
            ids = dict(conn.execute(f"SELECT rowid, passage_id FROM passages WHERE rowid IN ({','.join('?' * len(rows))})",
                                    [rowid for rowid, _ in rows]).fetchall())
            return [(ids[rowid], -rank) for rowid, rank in rows if rowid in ids]
        sql = (
            "SELECT p.passage_id, bm25(passages_fts) AS rank FROM passages_fts"
            " JOIN passages p ON p.rowid = passages_fts.rowid JOIN documents d ON d.doc_id = p.doc_id"
            " WHERE passages_fts MATCH ?"
        )
        params: list = [match]
        if sources:
            sql += f" AND d.source IN ({','.join('?' * len(sources))})"
            params += sources
        if published_from:
            sql += " AND d.published >= ?"
            params.append(published_from)
        if published_to:
            sql += " AND d.published <= ?"
            params.append(published_to)
        sql += " ORDER BY rank LIMIT ?"
        params.append(limit)
        return [(row[0], -row[1]) for row in conn.execute(sql, params)]

    def _rare_terms(self, terms: list[str], keep: int, common: float = 0.05, small: int = 10_000) -> list[str]:
        """The `keep` rarest terms, leaving out any found in more than `common` of all passages
        (unless that leaves nothing). BM25's cost grows with every passage a term occurs in, while
        a word like "new" (in a third of news passages) adds little to the ranking. Collections
        under `small` passages are searched with every term: there it costs next to nothing."""
        conn = self._conn()
        total = self.passage_total()
        if total < small:
            return terms
        counted = sorted((conn.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                                       (f'"{term}"',)).fetchone()[0], term) for term in terms)
        rare = [term for count, term in counted if count <= common * total]
        return (rare or [term for _, term in counted[:2]])[:keep]

    def generation(self) -> int:
        """Changes whenever any connection (another thread's, another process's) commits a write:
        SQLite's `PRAGMA data_version`, read on a connection of its own that never writes."""
        with self._version_lock:
            if self._version_conn is None:
                self._version_conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            return int(self._version_conn.execute("PRAGMA data_version").fetchone()[0])

    def heartbeat(self) -> None:
        """A local file is always there (a broken one fails on the query that reads it)."""

    def describe(self) -> dict:
        return {"backend": self.backend, "location": self.location}

    def close(self) -> None:
        with self._version_lock:
            if self._version_conn is not None:
                self._version_conn.close()
                self._version_conn = None
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
