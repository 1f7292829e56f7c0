"""Batch ingest: load files, index the articles in batches, report progress and a summary.

A bad file or record is reported and skipped; the rest of the batch is ingested. Each batch is
committed before the next is read, so an interrupted ingest keeps what it finished and the same
command run again completes it (unchanged articles are skipped).
"""

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import LoadError
from index.documents import Article
from index.store import ArticleIndex


@dataclass
class IngestSummary:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    failed: int = 0
    passages: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)  # doc_id, title, status, passages

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def line(self) -> str:
        return (
            f"{self.added} added, {self.replaced} replaced, {self.unchanged} unchanged, {self.failed} failed; "
            f"{self.passages} passages in {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("added", "replaced", "unchanged", "failed", "passages", "seconds", "errors", "documents")}


def _batches(items: Iterable[Article | LoadError], size: int) -> Iterator[tuple[list[Article], list[LoadError]]]:
    articles: list[Article] = []
    errors: list[LoadError] = []
    for item in items:
        (errors if isinstance(item, LoadError) else articles).append(item)
        if len(articles) >= size:
            yield articles, errors
            articles, errors = [], []
    if articles or errors:
        yield articles, errors


def ingest(index: ArticleIndex, items: Iterable[Article | LoadError], batch_size: int = 32,
           progress: bool | None = None, report=None) -> IngestSummary:
    """Index everything `items` yields. `report(message)` receives each error as it happens."""
    started = time.perf_counter()
    summary = IngestSummary()
    index.reconcile()  # finish what an interrupted ingest left behind
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(unit="article", desc="ingesting", file=sys.stderr)
    try:
        for articles, errors in _batches(items, batch_size):
            for error in errors:
                summary.failed += 1
                summary.errors.append(str(error))
                if report:
                    report(str(error))
            for outcome in index.add(articles) if articles else []:
                setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
                summary.passages += outcome.passages
                summary.documents.append(vars(outcome))
            if bar is not None:
                bar.update(len(articles) + len(errors))
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def ensure_sample(index: ArticleIndex, sample_path) -> IngestSummary | None:
    """On first start (an empty index) index the bundled sample articles, so there is something to ask.
    Sources are named relative to the project, so the sample keeps one id wherever the project lives."""
    from index.loaders import load_paths

    if not index.is_empty() or not sample_path:
        return None
    root = Path(__file__).resolve().parent.parent
    items = list(load_paths([Path(sample_path).resolve()]))
    for item in items:
        if isinstance(item, Article) and Path(item.source).is_relative_to(root):
            relative = Path(item.source).relative_to(root).as_posix()
            item.key = relative if item.key in (None, item.source) else item.key
            item.source = relative
    return ingest(index, items, progress=False)
