"""Thumbs up/down on answers, appended as JSON lines to `data_dir/feedback.jsonl`.

One line per rating keeps the file greppable and safe to append from several threads (the REST
API and the chat page write through the same lock); nothing is ever rewritten.
"""

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from core.errors import BadInput

FILENAME = "feedback.jsonl"
RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000

_lock = threading.Lock()


def feedback_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILENAME


def record(data_dir: str | Path, question: str, answer: str, rating: str, comment: str | None = None,
           **extra) -> dict:
    """Append one rating and return the stored entry. `extra` (e.g. citations, source) is kept as given."""
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
    path = feedback_path(data_dir)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
    return entry


def read_all(data_dir: str | Path) -> list[dict]:
    """Every stored rating, oldest first (for tests and for whoever reviews the answers)."""
    path = feedback_path(data_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
