"""What the REST API and the chat page both do to the index the server holds: list, read, upload,
add, delete, check health, and index the samples on first start.

They live here, below the web edge, so that `POST /api/documents` and the chat page's Documents tab
go through exactly the same checks, and so that no route module imports another (or the page a
route). Each takes the engine the server built; errors are project exceptions (`core.errors`),
which the edge turns into HTTP statuses or a line on the page. `ArticleIndex` serialises writes
itself.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant.engine import AnswerEngine
from core.errors import BadInput, NotFound, TooLarge
from index.documents import Article
from index.ingest import ensure_sample, ingest
from index.loaders import SUPPORTED_SUFFIXES, load_bytes

log = logging.getLogger(__name__)


def list_documents(engine: AnswerEngine) -> list[dict[str, Any]]:
    """Every indexed article with its passage count (the API's list and the page's table)."""
    return engine.index.documents()


def get_document(engine: AnswerEngine, doc_id: str) -> dict[str, Any]:
    """One article with its full text; NotFound names where the ids are listed."""
    document = engine.index.document(doc_id)
    if document is None:
        raise NotFound(f"no document with id {doc_id!r}; GET /api/documents lists the ids")
    return document


def upload_files(engine: AnswerEngine, files: list[tuple[str, bytes]], max_bytes: int,
                 on_file: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Index uploaded (name, content) pairs; bad files are reported in `errors`, good ones ingested.

    TooLarge when the files together exceed `max_bytes`; BadInput when no file held a usable article.
    `on_file(i, n, name)` is called as each file is read (the Documents tab's progress bar).
    """
    if not files:
        raise BadInput(f"no files uploaded; send one or more files ({', '.join(SUPPORTED_SUFFIXES)})")
    total = sum(len(data) for _, data in files)
    if total > max_bytes:
        raise TooLarge(f"the upload is {total / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB (setting max_upload_mb)")

    def items() -> Iterator:
        for i, (name, data) in enumerate(files):
            if on_file:
                on_file(i, len(files), name)
            yield from load_bytes(data, name)

    summary = ingest(engine.index, items(), progress=False)
    if summary.added + summary.replaced + summary.unchanged == 0:
        raise BadInput("nothing usable in the upload: " + "; ".join(summary.errors or ["no articles found"]))
    return summary.as_dict()


def add_articles(engine: AnswerEngine, articles: Iterable[Article]) -> dict[str, Any]:
    """Ingest articles already read from files (`app.py ingest` beside a server sends these)."""
    return ingest(engine.index, articles, progress=False).as_dict()


def delete_document(engine: AnswerEngine, doc_id: str) -> None:
    """NotFound for an unknown id. Chroma is checked first: the catalog commits the delete before
    Chroma's vectors go, so a 503 from that later step would be a refusal that had already deleted."""
    engine.index.vectors.heartbeat()  # StoreUnavailable (503) before anything changes
    if not engine.index.delete(doc_id):
        raise NotFound(f"no document with id {doc_id!r}; GET /api/documents lists the ids")


def health(engine: AnswerEngine, full: bool = False) -> dict[str, Any]:
    """Counts, and whether the vector index matches the catalog (by count, or id by id with `full`);
    StoreUnavailable (503) when Chroma or the catalog cannot be reached."""
    counts = engine.index.health(full)
    status = "ok" if not counts["index"]["state"].startswith("inconsistent") else "degraded"
    return {"status": status, **counts, "mode": engine.answerer.mode}


def index_samples(engine: AnswerEngine, sample_path: Path) -> None:
    """First start: an empty index gets the bundled sample articles, so the page can answer at once."""
    if not sample_path.exists():
        return
    summary = ensure_sample(engine.index, sample_path)
    if summary:
        log.info("indexed the samples in %s: %s", sample_path, summary.line())
