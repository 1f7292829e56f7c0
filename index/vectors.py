"""Chroma as the dense-vector store: embedded `PersistentClient` by default, a `chroma run` server
(`HttpClient`) when a host is set. Embeddings are always computed by us and passed in, so Chroma's
own default embedder (which downloads a model) is never used. Telemetry is off.

Every call into Chroma goes through `VectorStore._chroma`, which turns a store that cannot be reached
(a stopped `chroma run`, a refused or dropped connection, a timeout, an unreadable folder) into
`StoreUnavailable` (HTTP 503) naming the server, instead of the client library's own exception (which
was a 500). Nothing is cached but the collection handle, so once Chroma is back the next call works.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from core.errors import StoreUnavailable
from index.documents import Passage
from index.locks import file_lock


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _opening_lock(folder: Path | None):
    """Embedded Chroma creates its SQLite tables and collections without guarding against another
    process doing the same at that moment ("table collections already exists"), so processes opening
    one folder (a server and a command-line ingest) take turns while they set it up."""
    return file_lock(folder / "opening.lock") if folder else nullcontext()


def open_store(collection: str = "articles", data_dir: Path | None = None, host: str | None = None,
               port: int = 8000) -> "VectorStore":
    """The collection on a `chroma run` server when `host` is set, else embedded in `data_dir/chroma`."""
    import chromadb

    where = f"the Chroma server at {host}:{port}" if host else f"the Chroma store in {data_dir}"
    try:
        if host:
            return VectorStore(chromadb.HttpClient(host=host, port=port, settings=_chroma_settings()), collection, where=where)
        folder = data_dir / "chroma"
        with _opening_lock(folder):
            client = chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())
        return VectorStore(client, collection, local_folder=folder, where=where)
    except Exception as exc:  # chromadb raises plain exceptions for an unreachable server
        raise StoreUnavailable(f"cannot open {where}: {exc}") from exc


def _unreachable(exc: BaseException) -> bool:
    """A failure of the store rather than of the request: connection refused or reset, a timeout,
    an I/O error, or Chroma's own internal error. Anything else (a bad argument) is our bug and
    stays a 500 with its traceback in the log."""
    import httpx
    from chromadb.errors import InternalError

    return isinstance(exc, (httpx.TransportError, OSError, InternalError))


def _collection_gone(exc: BaseException) -> bool:
    """The collection handle points at a collection that no longer exists (another process ran
    `reindex`, which drops and recreates it, or the server's folder was replaced)."""
    from chromadb.errors import NotFoundError

    text = str(exc).lower()
    return isinstance(exc, NotFoundError) or "does not exist" in text


def _published_number(published: str | None) -> int:
    """Chroma filters ranges on numbers only, so dates are also stored as YYYYMMDD integers."""
    if not published:
        return 0
    digits = published[:10].replace("-", "")
    return int(digits) if digits.isdigit() and len(digits) == 8 else 0


class VectorStore:
    BATCH = 5_000  # ids deleted per request by `delete_ids()` (embedded Chroma's limit is about 5,400)

    def __init__(self, client, collection: str = "articles", local_folder: Path | None = None,
                 where: str = "the Chroma store"):
        """`local_folder`: the embedded store's folder, so creating the collection takes turns with
        other processes; None for a server, which serialises that itself. `where` names the store in
        error messages ("the Chroma server at 127.0.0.1:8000")."""
        self.client = client
        self.collection_name = collection
        self.local_folder = local_folder
        self.where = where
        self._collection = None

    @contextmanager
    def _reaching(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as exc:
            if not _unreachable(exc):
                raise
            self._collection = None  # a restarted server may hand out a new one
            hint = ("check that it is running (`chroma run`) and that chroma_host/chroma_port name it"
                    if self.local_folder is None else "check that its folder exists and is readable and writable")
            raise StoreUnavailable(f"cannot reach {self.where} to {action} ({type(exc).__name__}: {exc}); "
                                   f"{hint}, then retry") from exc

    def _chroma(self, action: str, call: Callable):
        """`call(collection)`, with failures to reach the store as StoreUnavailable. A collection
        dropped meanwhile by another process is looked up again once."""
        for attempt in (1, 2):
            with self._reaching(action):
                collection = self.collection
                try:
                    return call(collection)
                except Exception as exc:
                    if attempt == 2 or not _collection_gone(exc):
                        raise
                    self._collection = None

    @property
    def collection(self):
        if self._collection is None:
            with self._reaching(f"open the collection {self.collection_name!r}"):
                with _opening_lock(self.local_folder):
                    self._collection = self.client.get_or_create_collection(
                        self.collection_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
                    )
        return self._collection

    def add_rows(self, passages: list[Passage], vectors: np.ndarray, metadata: list[dict]) -> None:
        """Passages of several articles in one upsert, `metadata[i]` being the article of `passages[i]`.
        One upsert of 4,000 passages is faster than one per article: 20,000 passages took 22 s
        against 57 s embedded (`ArticleIndex` writes this way: one upsert per ingest batch, and per 4,000 in `add_passages`)."""
        if not passages:
            return
        metadatas = [
            {
                "doc_id": p.doc_id,
                "version": p.version,
                "idx": p.index,
                "title": meta.get("title") or "",
                "source": meta.get("source") or "",
                "published": meta.get("published") or "",
                "published_n": _published_number(meta.get("published")),
            }
            for p, meta in zip(passages, metadata, strict=True)
        ]
        self._chroma("store vectors", lambda c: c.upsert(
            ids=[p.passage_id for p in passages], embeddings=vectors, documents=[p.text for p in passages], metadatas=metadatas,
        ))

    def reset(self) -> None:
        """Drop every vector (the collection itself), to be refilled by `ArticleIndex.reembed`."""
        with self._reaching(f"drop the collection {self.collection_name!r}"):
            try:
                self.client.delete_collection(self.collection_name)
            except Exception as exc:
                if not _collection_gone(exc) and "not found" not in str(exc).lower():
                    raise
        self._collection = None

    def delete_version(self, doc_id: str, version: str) -> None:
        self._chroma("delete vectors", lambda c: c.delete(where={"$and": [{"doc_id": doc_id}, {"version": version}]}))

    def delete_ids(self, ids: list[str]) -> None:
        """Delete vectors by passage id (ids that are not there are ignored), `BATCH` per request."""
        ids = list(ids)
        for i in range(0, len(ids), self.BATCH):
            batch = ids[i : i + self.BATCH]
            self._chroma("delete vectors", lambda c: c.delete(ids=batch))

    def search(self, vector: np.ndarray, limit: int, sources: list[str] | None = None,
               published_from: str | None = None, published_to: str | None = None) -> list[tuple[str, float]]:
        """(passage_id, cosine similarity) best first."""
        clauses = []
        if sources:
            clauses.append({"source": {"$in": list(sources)}})
        if published_from:
            clauses.append({"published_n": {"$gte": _published_number(published_from)}})
        if published_to:
            clauses.append({"published_n": {"$lte": _published_number(published_to)}})
        where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        result = self._chroma("search", lambda c: c.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=limit, where=where, include=["distances"]
        ))
        return [(pid, 1.0 - dist) for pid, dist in zip(result["ids"][0], result["distances"][0])]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these passages, by id (ids Chroma does not hold are absent)."""
        if not ids:
            return {}
        result = self._chroma("read vectors", lambda c: c.get(ids=list(ids), include=["embeddings"]))
        return {pid: np.asarray(vector, dtype=np.float32) for pid, vector in zip(result["ids"], result["embeddings"])}

    def get_ids(self, limit: int | None = None, offset: int = 0) -> list[str]:
        """One page of passage ids, in Chroma's insertion order. Pages are read by offset: take the
        index's writing lock when they must not shift under a concurrent write."""
        return self._chroma("list vectors", lambda c: c.get(include=[], limit=limit, offset=offset))["ids"]

    def ids(self) -> list[str]:
        """Every passage id, in one request. Measured at 200,000 passages: 0.42 s embedded, 0.62 s from
        a `chroma run` server on loopback; reading them in pages of 10,000 took 2.5-2.7 s, because
        each page by offset scans from the start again. So no paging here (see `get_ids`)."""
        return self.get_ids()

    def count(self) -> int:
        return self._chroma("count vectors", lambda c: c.count())

    def describe(self) -> dict:
        return {"backend": "chroma-embedded" if self.local_folder else "chroma-server", "location": self.where}

    def heartbeat(self) -> None:
        try:
            self.client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach {self.where} (Chroma is unreachable: {exc})") from exc

    def close(self) -> None:
        """Let go of the client. An embedded store's last client in this process stops Chroma's
        system for the folder, so the next open (perhaps after another process wrote) reads it afresh."""
        self._collection = None
        close = getattr(self.client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing twice, or a server that is gone: nothing left to release
                pass
