"""The PostgreSQL catalog (see `base.py`), chosen by `database_url`: one catalog for any number of app
replicas and command-line ingests on any machines.

- Schema: the versioned SQL files in `migrations/`, applied in order at start, each once, inside a
  transaction that holds an advisory lock (two replicas starting together do not both apply one).
- Writers take turns through a session advisory lock held on a connection of its own, so an ingest
  on one machine and an upload through a replica on another cannot reconcile away each other's
  in-flight vectors (see `index/store.py`). PostgreSQL releases it when that session ends, however
  the holder ends (`kill -9` included), as the kernel releases the SQLite catalog's `flock`.
- Lexical search is BM25 with FTS5's formula (k1 1.2, b 0.75, idf log((N - n + 0.5) / (n + 0.5)),
  floored at 1e-6), so the retriever ranks as it does on SQLite. PostgreSQL's own `ts_rank` has no
  inverse document frequency. Its text search still does the work of turning words into lexemes
  (`to_tsvector`, English stemming); the writer stores them as postings (lexeme, passage, tf, length)
  and keeps, in the same transaction, each lexeme's document frequency (`lexemes`) and the passage
  and word totals (`counters`). A query sums BM25 over the postings of its rarest lexemes, read by
  an index-only scan (see migrations/002_postings.sql for why not the GIN-indexed tsvector).
- `generation` is a counter bumped by every committed change, so an answer cache in one replica sees
  another replica's writes at its next question.
- A lost server (restart, network) is StoreUnavailable (HTTP 503) naming it; the pool checks each
  connection before lending it, and a failure replaces the pool (see `_replace`), so the next request
  after PostgreSQL is back works, without a restart.
"""

import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from core.errors import ConfigError, StoreUnavailable
from index.catalog.base import BM25_B, BM25_K1, sentences_of
from index.documents import Article, Passage
from index.text import content_tokens, search_tokens

MIGRATIONS = Path(__file__).with_name("migrations")
# Advisory lock keys (any fixed 64-bit numbers, the same in every process): "newsqaWR", "newsqaMG".
WRITER_LOCK = 0x6E65777371615752
MIGRATION_LOCK = 0x6E6577737161_4D47
TEXT_CONFIG = "english"  # PostgreSQL's Snowball English stemmer; FTS5 uses the Porter stemmer


def describe_url(url: str) -> str:
    """The URL without its password, for messages and /api/health."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"database_url (NEWSQA_DATABASE_URL) is not a PostgreSQL URL: {exc}") from None
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', 'localhost')}{port}/{parts.get('dbname', '')}"


class PostgresCatalog:
    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 8, connect_timeout: float = 5.0, wait_timeout: float = 5.0):
        self.location = describe_url(url)
        self._url = url
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._wait_timeout = wait_timeout
        self._pool_lock = threading.Lock()
        self._pool = self._new_pool()
        try:
            self._pool.wait(timeout=connect_timeout * 2)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot reach the PostgreSQL catalog at {self.location}: no connection in "
                                   f"{connect_timeout * 2:.0f} s ({exc}); is the server running, and are the URL's "
                                   "host, port, user and password right?") from None
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _new_pool(self) -> ConnectionPool:
        # client_encoding: a database created without a UTF-8 locale (initdb in a bare container) is
        # SQL_ASCII, and psycopg then returns text columns as bytes; asked for UTF-8, it decodes them.
        pool = ConnectionPool(
            self._url, min_size=1, max_size=self._pool_size, open=False, timeout=self._wait_timeout,
            name="newsqa-catalog", check=ConnectionPool.check_connection,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": int(self._connect_timeout),
                    "client_encoding": "utf8"},
        )
        pool.open(wait=False)
        pool.opened_at = time.monotonic()
        return pool

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection]:
        """A pooled connection; losing the server while using it is StoreUnavailable (HTTP 503)."""
        pool = self._pool
        try:
            with pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._replace(pool)
            raise StoreUnavailable(f"cannot reach the PostgreSQL catalog at {self.location} to {action} "
                                   f"({type(exc).__name__}: {str(exc).strip()}); try again once it is back") from exc

    def _replace(self, lost: ConnectionPool) -> None:
        """A new pool after a failure (at most one a second). psycopg's pool retries a lost server with
        a doubling delay (1, 2, 4, ... s): after a 20-second outage the next attempt could be 16 s
        away. A new pool tries at once, so the first request after the server is back gets through."""
        with self._pool_lock:
            if self._pool is not lost or time.monotonic() - lost.opened_at < 1.0:
                return
            self._pool = self._new_pool()
        lost.close(timeout=0)

    @contextmanager
    def _write(self, action: str) -> Iterator[psycopg.Cursor]:
        with self._connection(action) as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _migrate(self) -> None:
        """Apply the migrations this database has not had yet, in order, each once."""
        files = sorted(MIGRATIONS.glob("*.sql"))
        with self._write("prepare its schema") as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {row["version"] for row in cur.execute("SELECT version FROM schema_migrations")}
            known = {int(path.name.split("_")[0]) for path in files}
            if done - known:
                raise ConfigError(f"the PostgreSQL catalog at {self.location} has schema version {max(done)}, newer than "
                                  f"this newsqa knows ({max(known)}): run the newer newsqa, or use another database")
            for path in files:
                version = int(path.name.split("_")[0])
                if version not in done:
                    cur.execute(path.read_text(encoding="utf-8").encode())
                    cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, path.name))

    # --- writes -------------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Held on a connection of its own, outside the pool: closing it releases the lock."""
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=int(self._connect_timeout),
                                   client_encoding="utf8")
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the PostgreSQL catalog at {self.location} to take the writer lock "
                                   f"({str(exc).strip()})") from exc
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            yield
        finally:
            conn.close()

    def committed_version(self, doc_id: str) -> str | None:
        with self._connection("read a document") as conn:
            row = conn.execute("SELECT version FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()
        return row["version"] if row else None

    def mark_pending(self, doc_id: str, version: str) -> None:
        with self._connection("journal a write") as conn:
            conn.execute("INSERT INTO pending_vectors VALUES (%s, %s) ON CONFLICT DO NOTHING", (doc_id, version))

    def commit_document(self, article: Article, passages: list[Passage], old_version: str | None) -> None:
        rows, terms, lengths = [], [], []
        for passage in passages:
            words = search_tokens(f"{article.title}\n{passage.text}")
            rows.append((passage.passage_id, passage.doc_id, passage.index, passage.start, passage.end, passage.text,
                         passage.sentences_json(), len(words)))
            terms.append(" ".join(words))
            lengths.append(len(words))
        with self._write("store a document") as cur:
            self._delete_rows(cur, article.doc_id)
            cur.execute(
                "INSERT INTO documents (doc_id, version, title, source, published, author, subject, text, passages)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (article.doc_id, article.version, article.title, article.source, article.published,
                 article.author, article.subject, article.text, len(passages)),
            )
            ids = []
            if rows:
                cur.executemany('INSERT INTO passages (passage_id, doc_id, idx, start, "end", text, sentences, length)'
                                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id", rows, returning=True)
                while True:
                    ids.append(cur.fetchone()["id"])
                    if not cur.nextset():
                        break
                cur.execute(
                    "INSERT INTO postings (lexeme, passage, tf, length)"
                    " SELECT u.lexeme, x.id, cardinality(u.positions), x.length"
                    " FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS x(id, terms, length),"
                    f" unnest(to_tsvector('{TEXT_CONFIG}', x.terms)) AS u", (ids, terms, lengths))
                cur.execute("INSERT INTO lexemes (lexeme, df) SELECT lexeme, count(*) FROM postings WHERE passage = ANY(%s)"
                            " GROUP BY lexeme ON CONFLICT (lexeme) DO UPDATE SET df = lexemes.df + EXCLUDED.df", (ids,))
            self._count(cur, documents=1, passages=len(rows), words=sum(lengths))
            cur.execute("DELETE FROM pending_vectors WHERE doc_id = %s AND version = %s", (article.doc_id, article.version))
            if old_version and old_version != article.version:
                cur.execute("INSERT INTO pending_vectors VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            (article.doc_id, old_version))

    def delete_document(self, doc_id: str) -> str | None:
        with self._write("delete a document") as cur:
            version = self._delete_rows(cur, doc_id)
            if version:
                cur.execute("INSERT INTO pending_vectors VALUES (%s, %s) ON CONFLICT DO NOTHING", (doc_id, version))
                self._count(cur)
        return version

    @staticmethod
    def _count(cur: psycopg.Cursor, documents: int = 0, passages: int = 0, words: int = 0) -> None:
        """Adjust the totals BM25 reads and bump the generation, in the caller's transaction."""
        cur.execute("UPDATE counters SET value = value + CASE name WHEN 'documents' THEN %s WHEN 'passages' THEN %s"
                    " WHEN 'words' THEN %s ELSE 1 END", (documents, passages, words))

    def _delete_rows(self, cur: psycopg.Cursor, doc_id: str) -> str | None:
        """Remove a document's rows and their share of the counts; returns the version removed."""
        gone = cur.execute("DELETE FROM passages WHERE doc_id = %s RETURNING id, length", (doc_id,)).fetchall()
        if gone:
            ids = [r["id"] for r in gone]
            cur.execute("UPDATE lexemes l SET df = l.df - s.n FROM (SELECT lexeme, count(*) AS n FROM postings"
                        " WHERE passage = ANY(%s) GROUP BY lexeme) s WHERE l.lexeme = s.lexeme", (ids,))
            cur.execute("DELETE FROM postings WHERE passage = ANY(%s)", (ids,))
        row = cur.execute("DELETE FROM documents WHERE doc_id = %s RETURNING version", (doc_id,)).fetchone()
        if row:
            self._count(cur, documents=-1, passages=-len(gone), words=-sum(r["length"] for r in gone))
        return row["version"] if row else None

    def pending(self) -> list[tuple[str, str]]:
        with self._connection("read the write journal") as conn:
            return [(r["doc_id"], r["version"]) for r in conn.execute("SELECT doc_id, version FROM pending_vectors")]

    def clear_pending(self, doc_id: str, version: str) -> None:
        with self._connection("clear the write journal") as conn:
            conn.execute("DELETE FROM pending_vectors WHERE doc_id = %s AND version = %s", (doc_id, version))

    def set_meta(self, key: str, value: str) -> None:
        with self._write("record a setting") as cur:
            cur.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (key, value))
            self._count(cur)

    def set_meta_if_absent(self, key: str, value: str) -> str:
        with self._connection("record a setting") as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, value))
            return conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()["value"]

    def get_meta(self, key: str) -> str | None:
        with self._connection("read a setting") as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row["value"] if row else None

    def add_feedback(self, entry: dict) -> None:
        """A rating from any replica (`assistant/feedback.py`)."""
        with self._connection("store feedback") as conn:
            conn.execute("INSERT INTO feedback (entry) VALUES (%s)", (Jsonb(entry),))

    def feedback(self) -> list[dict]:
        with self._connection("read feedback") as conn:
            return [row["entry"] for row in conn.execute("SELECT entry FROM feedback ORDER BY id")]

    # --- reads --------------------------------------------------------------------------------

    def documents(self) -> list[dict]:
        with self._connection("list documents") as conn:
            return conn.execute("SELECT doc_id, title, source, published, author, subject, passages, ingested_at"
                                " FROM documents ORDER BY ingested_at, title").fetchall()

    def document(self, doc_id: str) -> dict | None:
        with self._connection("read a document") as conn:
            return conn.execute("SELECT doc_id, version, title, source, published, author, subject, text, passages,"
                                " ingested_at FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()

    def _counters(self, conn: psycopg.Connection) -> dict[str, int]:
        return {row["name"]: row["value"] for row in conn.execute("SELECT name, value FROM counters")}

    def count(self) -> tuple[int, int]:
        with self._connection("count documents") as conn:
            counters = self._counters(conn)
        return counters["documents"], counters["passages"]

    def document_batches(self, size: int) -> Iterator[list[tuple[dict, list[Passage]]]]:
        with self._connection("list documents") as conn:
            doc_ids = [row["doc_id"] for row in conn.execute("SELECT doc_id FROM documents ORDER BY doc_id")]
        for i in range(0, len(doc_ids), size):
            chunk = doc_ids[i : i + size]
            with self._connection("read documents") as conn:
                docs = {row["doc_id"]: row for row in conn.execute(
                    "SELECT doc_id, version, title, source, published FROM documents WHERE doc_id = ANY(%s)", (chunk,))}
                rows = conn.execute('SELECT doc_id, idx, start, "end", text, sentences FROM passages'
                                    " WHERE doc_id = ANY(%s) ORDER BY doc_id, idx", (chunk,)).fetchall()
            passages: dict[str, list[Passage]] = {doc_id: [] for doc_id in docs}
            for row in rows:
                passages[row["doc_id"]].append(Passage(row["doc_id"], docs[row["doc_id"]]["version"], row["idx"],
                                                       row["start"], row["end"], row["text"], sentences_of(row["sentences"])))
            yield [(docs[doc_id], passages[doc_id]) for doc_id in chunk if doc_id in docs]

    def passage_total(self, max_age: float = 10.0) -> int:
        """Kept as a counter by the writers, so always current (`max_age` is the SQLite catalog's)."""
        return self.count()[1]

    def passage_ids(self) -> set[str]:
        with self._connection("list passages") as conn:
            return {row["passage_id"] for row in conn.execute("SELECT passage_id FROM passages")}

    def passages(self, passage_ids: Iterable[str]) -> dict[str, dict]:
        ids = list(passage_ids)
        if not ids:
            return {}
        with self._connection("read passages") as conn:
            rows = conn.execute(
                'SELECT p.passage_id, p.doc_id, p.idx, p.start, p."end", p.text, p.sentences,'
                " d.title, d.source, d.published, d.version FROM passages p JOIN documents d USING (doc_id)"
                " WHERE p.passage_id = ANY(%s)", (ids,)).fetchall()
        for row in rows:
            row["sentences"] = sentences_of(row["sentences"])
        return {row["passage_id"]: row for row in rows}

    def lexical_search(self, query: str, limit: int, sources: list[str] | None = None,
                       published_from: str | None = None, published_to: str | None = None,
                       max_terms: int = 0, common: float = 0.05, small: int = 10_000) -> list[tuple[str, float]]:
        """BM25, scored in SQL from the lexeme counts. With `max_terms`, collections of `small`
        passages or more are searched with the rarest few lexemes only, leaving out those in more
        than `common` of all passages (the SQLite catalog's `_rare_terms`, for the same reason)."""
        tokens = sorted(set(content_tokens(query)))
        if not tokens:
            return []
        with self._connection("search") as conn:
            counted = conn.execute(
                f"SELECT l.lexeme, l.df FROM lexemes l WHERE l.df > 0 AND l.lexeme IN"
                f" (SELECT lexeme FROM unnest(to_tsvector('{TEXT_CONFIG}', %s)))", (" ".join(tokens),)).fetchall()
            if not counted:
                return []
            counters = self._counters(conn)
            total, words = counters["passages"], counters["words"]
            counted.sort(key=lambda row: (row["df"], row["lexeme"]))
            if max_terms and total >= small:
                rare = [row for row in counted if row["df"] <= common * total]
                counted = (rare or counted[:2])[:max_terms]
            lexemes = [row["lexeme"] for row in counted]
            idfs = [max(math.log((total - row["df"] + 0.5) / (row["df"] + 0.5)), 1e-6) for row in counted]
            score = (f"sum(q.idf * x.tf * {BM25_K1 + 1}::float8 / (x.tf + {BM25_K1}::float8"
                     f" * ({1 - BM25_B}::float8 + {BM25_B}::float8 * x.length / %(avgdl)s::float8)))")
            params = {"avgdl": max(words / max(total, 1), 1.0), "lexemes": lexemes, "idfs": idfs, "limit": limit}
            postings = ("postings x JOIN unnest(%(lexemes)s::text[], %(idfs)s::float8[]) AS q(lexeme, idf)"
                        " ON x.lexeme = q.lexeme")
            if not (sources or published_from or published_to):
                # No filter: rank the postings alone, then name the few winners.
                sql = (f"SELECT p.passage_id, s.score FROM (SELECT x.passage, {score} AS score FROM {postings}"
                       " GROUP BY x.passage ORDER BY score DESC, x.passage LIMIT %(limit)s) s"
                       " JOIN passages p ON p.id = s.passage ORDER BY s.score DESC, s.passage")
            else:
                where = []
                if sources:
                    where.append("d.source = ANY(%(sources)s)")
                    params["sources"] = list(sources)
                if published_from:
                    where.append("d.published >= %(published_from)s")
                    params["published_from"] = published_from
                if published_to:
                    where.append("d.published <= %(published_to)s")
                    params["published_to"] = published_to
                sql = (f"SELECT p.passage_id, {score} AS score FROM {postings} JOIN passages p ON p.id = x.passage"
                       f" JOIN documents d ON d.doc_id = p.doc_id WHERE {' AND '.join(where)}"
                       " GROUP BY p.passage_id, p.id ORDER BY score DESC, p.id LIMIT %(limit)s")
            return [(row["passage_id"], float(row["score"])) for row in conn.execute(sql, params)]

    def generation(self) -> int:
        with self._connection("read the index version") as conn:
            return conn.execute("SELECT value FROM counters WHERE name = 'generation'").fetchone()["value"]

    def heartbeat(self) -> None:
        with self._connection("check it") as conn:
            conn.execute("SELECT 1")

    def describe(self) -> dict:
        return {"backend": self.backend, "location": self.location}

    def close(self) -> None:
        self._pool.close()
