"""Command-line work done through the server that holds the data directory.

While `app.py serve` holds an embedded data directory no other process may open it (see
`index/owner.py`), so `ingest`, `documents`, `delete`, `ask` and `check` send their work to that
server's REST API instead. Files are still read and checked here, so errors name local paths and
articles keep the identity a direct ingest gives them; they travel as JSON in batches that stay
well under the server's upload limit.
"""

import json
from collections.abc import Callable, Iterable

import httpx

from assistant.answering.base import Answer
from core.errors import AssistantError, LoadError, StoreUnavailable
from index.documents import Article
from index.ingest import IngestSummary

BATCH_ARTICLES = 64


class RemoteIndex:
    def __init__(self, url: str, api_key: str | None = None, max_batch_bytes: int = 8 * 2**20, timeout: float = 600.0):
        self.url = url.rstrip("/")
        self.max_batch_bytes = max_batch_bytes
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False)

    def _call(self, method: str, path: str, **kwargs):
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"the server at {self.url} holds the data directory but cannot be reached ({exc}); "
                                   "if it has stopped, run the command again") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error")
            except ValueError:
                message = None
            error = AssistantError(f"the server at {self.url} answered {response.status_code}: {message or response.text[:300]}")
            error.status_code = response.status_code
            raise error
        return response.json()

    def ingest(self, items: Iterable[Article | LoadError], report: Callable[[str], None] | None = None) -> IngestSummary:
        summary = IngestSummary()
        batch: list[dict] = []
        size = 0

        def send() -> None:
            nonlocal batch, size
            if batch:
                result = self._call("POST", "/api/articles", json={"articles": batch})
                for key in ("added", "replaced", "unchanged", "failed", "passages"):
                    setattr(summary, key, getattr(summary, key) + result[key])
                summary.seconds += result["seconds"]
                summary.errors += result["errors"]
                summary.documents += result["documents"]
                for error in result["errors"]:
                    if report:
                        report(error)
            batch, size = [], 0

        for item in items:
            if isinstance(item, LoadError):
                summary.failed += 1
                summary.errors.append(str(item))
                if report:
                    report(str(item))
                continue
            record = {"text": item.text, "title": item.title, "source": item.source, "published": item.published,
                      "author": item.author, "subject": item.subject, "key": item.key}
            record_size = len(json.dumps(record))
            if batch and (size + record_size > self.max_batch_bytes or len(batch) >= BATCH_ARTICLES):
                send()
            batch.append(record)
            size += record_size
        send()
        return summary

    def documents(self) -> list[dict]:
        return self._call("GET", "/api/documents")

    def delete(self, doc_id: str) -> bool:
        try:
            self._call("DELETE", f"/api/documents/{doc_id}")
        except AssistantError as exc:
            if getattr(exc, "status_code", None) == 404:
                return False
            raise
        return True

    def answer(self, question: str, history: list | None = None, k: int | None = None, filters=None) -> Answer:
        body: dict = {"question": question}
        if history:
            body["history"] = [{"role": role, "content": text} for pair in history for role, text in zip(("user", "assistant"), pair)]
        if k:
            body["k"] = k
        if filters:
            body["filters"] = {key: value for key, value in filters.as_kwargs().items() if value}
        return Answer.from_dict(self._call("POST", "/api/ask", json=body))

    def check(self) -> dict:
        return self._call("GET", "/api/health", params={"full": "true"})["index"]

    def close(self) -> None:
        self.client.close()
