"""The records that flow through ingestion: an Article as loaded, and the Passages cut from it.

Offsets are always character offsets into `Article.text`, which is kept exactly as loaded so that
`article.text[start:end]` gives back the displayed evidence.
"""

import hashlib
import json
from dataclasses import dataclass, field


def _digest(*parts: str, size: int = 16) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:size]


@dataclass
class Article:
    text: str
    title: str
    source: str  # a URL, or the file (and record) it came from
    published: str | None = None  # ISO date (YYYY-MM-DD) when known
    author: str | None = None
    subject: str | None = None
    key: str | None = None  # identity across versions: URL, or file plus record; defaults to source

    @property
    def doc_id(self) -> str:
        """Stable id of the article's identity: the same URL or file record keeps its id when edited."""
        return _digest(self.key or self.source)

    @property
    def version(self) -> str:
        """Hash of everything stored for the article: a change to text or metadata is a new version."""
        return _digest(self.text, self.title, self.source, self.published or "", self.author or "", self.subject or "")

    def metadata(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "author": self.author,
            "subject": self.subject,
        }


@dataclass
class Passage:
    doc_id: str
    version: str
    index: int  # position of the passage in its article
    start: int  # offsets of the passage in the article text
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)  # article offsets of each sentence

    @property
    def passage_id(self) -> str:
        return f"{self.doc_id}:{self.version}:{self.index}"

    def sentences_json(self) -> str:
        return json.dumps(self.sentences)
