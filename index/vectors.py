"""Chroma as the dense-vector store: embedded `PersistentClient` by default, a `chroma run` server
(`HttpClient`) when a host is set. Embeddings are always computed by us and passed in, so Chroma's
own default embedder (which downloads a model) is never used. Telemetry is off."""

from contextlib import nullcontext
from pathlib import Path

import numpy as np

from assistant.errors import StoreUnavailable
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

    try:
        if host:
            return VectorStore(chromadb.HttpClient(host=host, port=port, settings=_chroma_settings()), collection)
        folder = data_dir / "chroma"
        with _opening_lock(folder):
            client = chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())
        return VectorStore(client, collection, local_folder=folder)
    except Exception as exc:  # chromadb raises plain exceptions for an unreachable server
        where = f"the Chroma server at {host}:{port}" if host else f"the Chroma store in {data_dir}"
        raise StoreUnavailable(f"cannot open {where}: {exc}") from exc


def _published_number(published: str | None) -> int:
    """Chroma filters ranges on numbers only, so dates are also stored as YYYYMMDD integers."""
    if not published:
        return 0
    digits = published[:10].replace("-", "")
    return int(digits) if digits.isdigit() and len(digits) == 8 else 0


class VectorStore:
    def __init__(self, client, collection: str = "articles", local_folder: Path | None = None):
        """`local_folder`: the embedded store's folder, so creating the collection takes turns with
        other processes; None for a server, which serialises that itself."""
        self.client = client
        self.collection_name = collection
        self.local_folder = local_folder
        self._collection = None

    @property
    def collection(self):
        if self._collection is None:
            try:
                with _opening_lock(self.local_folder):
                    self._collection = self.client.get_or_create_collection(
                        self.collection_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
                    )
            except Exception as exc:
                raise StoreUnavailable(f"cannot reach Chroma collection {self.collection_name!r}: {exc}") from exc
        return self._collection

    def add(self, passages: list[Passage], vectors: np.ndarray, metadata: dict) -> None:
        if not passages:
            return
        self.collection.upsert(
            ids=[p.passage_id for p in passages],
            embeddings=vectors,
            documents=[p.text for p in passages],
            metadatas=[
                {
                    "doc_id": p.doc_id,
                    "version": p.version,
                    "idx": p.index,
                    "title": metadata.get("title") or "",
                    "source": metadata.get("source") or "",
                    "published": metadata.get("published") or "",
                    "published_n": _published_number(metadata.get("published")),
                }
                for p in passages
            ],
        )

    def reset(self) -> None:
        """Drop every vector (the collection itself), to be refilled by `ArticleIndex.reembed`."""
        try:
            self.client.delete_collection(self.collection_name)
        except Exception as exc:
            if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                raise StoreUnavailable(f"cannot drop Chroma collection {self.collection_name!r}: {exc}") from exc
        self._collection = None

    def delete_version(self, doc_id: str, version: str) -> None:
        self.collection.delete(where={"$and": [{"doc_id": doc_id}, {"version": version}]})

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
        try:
            result = self.collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=limit, where=where, include=["distances"]
            )
        except Exception as exc:
            raise StoreUnavailable(f"Chroma query failed: {exc}") from exc
        return [(pid, 1.0 - dist) for pid, dist in zip(result["ids"][0], result["distances"][0])]

    def ids(self) -> list[str]:
        return self.collection.get(include=[])["ids"]

    def count(self) -> int:
        return self.collection.count()

    def heartbeat(self) -> None:
        try:
            self.client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma is unreachable: {exc}") from exc
