"""Thumbs up/down on answers. Where they go follows the catalog: appended as JSON lines to
`data_dir/feedback.jsonl` beside a SQLite catalog, or into the PostgreSQL catalog's `feedback` table,
which every replica shares (so a replica keeps nothing of its own).

One JSON line per rating keeps the file greppable and safe to append from several threads (the REST
API and the chat page write through the same lock); nothing is ever rewritten.
"""

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from core.errors import BadInput

FILENAME = "feedback.jsonl"
RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000

_lock = threading.Lock()


class FeedbackStore(Protocol):
    def add_feedback(self, entry: dict) -> None: ...
    def feedback(self) -> list[dict]:
        """Every stored rating, oldest first."""


class JsonlFeedback:
    """The embedded default: a file in the data directory."""

    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / FILENAME

    def add_feedback(self, entry: dict) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)

    def feedback(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


def store_for(data_dir: str | Path, index) -> FeedbackStore:
    """The shared catalog when it keeps feedback (PostgreSQL), else the data directory's file."""
    catalog = getattr(index, "catalog", None)
    return catalog if hasattr(catalog, "add_feedback") else JsonlFeedback(data_dir)


def record(store: FeedbackStore, question: str, answer: str, rating: str, comment: str | None = None,
           **extra) -> dict:
    """Store one rating and return the stored entry. `extra` (e.g. citations, source) is kept as given."""
    if rating not in RATINGS:
        raise BadInput(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    if comment and len(comment) > MAX_COMMENT_CHARS:
        raise BadInput(f"the comment is longer than {MAX_COMMENT_CHARS} characters")
    entry = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "question": question,
        "answer": answer,
        "rating": rating,
        "comment": comment or None,
        **extra,
    }
    store.add_feedback(entry)
    return entry


def read_all(store: FeedbackStore) -> list[dict]:
    """Every stored rating, oldest first (for tests and for whoever reviews the answers)."""
    return store.feedback()
