"""What every catalog backend offers the index (`index/store.py`).

The catalog is the source of truth for what is in the index: the committed documents (with their full
text, for citations), their passages, a BM25 lexical index over the passages, and a small journal of
Chroma writes that may need undoing after a crash. A document becomes visible to queries in one
transaction, so a half-written document is never seen.

Two backends hold it: SQLite (`sqlite.py`, the default: one file in the data directory, one machine)
and PostgreSQL (`postgres.py`, chosen by `database_url`: shared by any number of app replicas on any
machines). Both score lexical matches with BM25 (k1 1.2, b 0.75), so the retriever ranks alike on
either.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from index.documents import Article, Passage

BM25_K1 = 1.2
BM25_B = 0.75


def sentences_of(stored: str) -> list[tuple[int, int]]:
    """The (start, end) sentence offsets a passage row stores as JSON."""
    return [tuple(pair) for pair in json.loads(stored)]


class Catalog(Protocol):
    backend: str  # "sqlite" or "postgresql"
    location: str  # where it lives, for messages (never with a password)

    # --- writes (the index calls these inside `writer_lock`) ---
    def writer_lock(self) -> AbstractContextManager[None]:
        """Exclusive across every process and machine writing to this catalog; not re-entrant."""
    def committed_version(self, doc_id: str) -> str | None: ...
    def mark_pending(self, doc_id: str, version: str) -> None: ...
    def commit_document(self, article: Article, passages: list[Passage], old_version: str | None) -> None:
        """Replace the document and its lexical entries in one transaction; the old version's vectors
        become pending removal in the same transaction."""
    def delete_document(self, doc_id: str) -> str | None:
        """Remove a document; its vectors become pending removal. Returns its version."""
    def pending(self) -> list[tuple[str, str]]: ...
    def clear_pending(self, doc_id: str, version: str) -> None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Record `value` unless another writer got there first; returns what is recorded."""
    def get_meta(self, key: str) -> str | None: ...

    # --- reads ---
    def documents(self) -> list[dict]: ...
    def document(self, doc_id: str) -> dict | None: ...
    def count(self) -> tuple[int, int]:
        """(documents, passages)."""
    def document_batches(self, size: int) -> Iterator[list[tuple[dict, list[Passage]]]]: ...
    def passage_total(self, max_age: float = 10.0) -> int: ...
    def passage_ids(self) -> set[str]: ...
    def passages(self, passage_ids: Iterable[str]) -> dict[str, dict]:
        """Committed passages with their document's metadata, by id; ids not committed are absent."""
    def lexical_search(self, query: str, limit: int, sources: list[str] | None = None,
                       published_from: str | None = None, published_to: str | None = None,
                       max_terms: int = 0) -> list[tuple[str, float]]:
        """BM25 over passage terms: (passage_id, score) best first, higher is better. `max_terms` > 0
        searches only the rarest few question terms on large collections."""
    def generation(self) -> int:
        """A number that changes whenever any process commits a change (an answer cache keys on it)."""
    def heartbeat(self) -> None:
        """StoreUnavailable when the catalog cannot be reached."""
    def describe(self) -> dict: ...
    def close(self) -> None: ...
