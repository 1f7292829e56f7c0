"""Copy one catalog into another as stored (same ids, versions, offsets), so an embedded index moves to
the shared PostgreSQL mode without re-embedding: its Chroma vectors keep matching the passages.

Each document is committed on its own, and one already there at the same version is skipped, so an
interrupted copy run again finishes the job. Documents only in the target are left alone.
"""

from collections.abc import Callable
from dataclasses import dataclass

from index.catalog.base import Catalog

COPIED_META = ("embedding_model",)  # facts about the vectors, which stay where they are


@dataclass
class StoredDocument:
    """A committed document as a catalog returns it: what `commit_document` reads from an Article."""

    doc_id: str
    version: str
    title: str
    source: str
    published: str | None
    author: str | None
    subject: str | None
    text: str


def copy_catalog(source: Catalog, target: Catalog, batch: int = 64,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Every document of `source` into `target`; returns counts. Holds the target's writer lock."""
    copied = unchanged = passages = 0
    with target.writer_lock():
        for key in COPIED_META:
            value = source.get_meta(key)
            recorded = target.get_meta(key)
            if value and recorded and recorded != value:
                from core.errors import ConfigError

                raise ConfigError(f"{target.location} holds vectors of {recorded!r}, {source.location} of {value!r}: "
                                  "copy into an empty database")
            if value and not recorded:
                target.set_meta(key, value)
        for documents in source.document_batches(batch):
            for row, stored_passages in documents:
                current = target.committed_version(row["doc_id"])
                if current == row["version"]:
                    unchanged += 1
                else:
                    full = source.document(row["doc_id"])
                    document = StoredDocument(**{name: full[name] for name in StoredDocument.__dataclass_fields__})
                    target.commit_document(document, stored_passages, current)
                    copied += 1
                    passages += len(stored_passages)
                if progress:
                    progress(copied + unchanged)
    return {"copied": copied, "unchanged": unchanged, "passages": passages}
