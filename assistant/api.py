"""The REST API under `/api`: ask (JSON or server-sent events), documents, health, feedback.

Routes only validate the request and call the engine or the index; the engine's answer contract is
returned as is. Project exceptions (`core.errors`) propagate to `assistant.server`, which turns
them into `{"error": message}` JSON with the exception's status code. When `api_keys` is set, every
route here needs `Authorization: Bearer KEY` (enforced where `server.build_app` includes the router).

The upload and delete helpers are plain functions so that the chat page's Documents tab
(`assistant.ui`) goes through exactly the same checks. `ArticleIndex` serialises writes itself.
"""

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field

from assistant import feedback
from assistant.engine import AnswerEngine
from core.errors import AssistantError, BadInput, NotFound, TooLarge
from assistant.http_errors import API_ERRORS, NOT_FOUND
from core.settings import Settings, get_settings
from index.documents import Article
from index.ingest import ingest
from index.loaders import SUPPORTED_SUFFIXES, load_bytes
from index.store import ArticleIndex, Filters

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)
log = logging.getLogger(__name__)


def get_engine(request: Request) -> AnswerEngine:
    """The engine built once by `server.build_app` (models are loaded there, not per request)."""
    return request.app.state.engine


EngineDep = Annotated[AnswerEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# --- request and response shapes ------------------------------------------------------------------

class Turn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(None, description="Only articles whose source is one of these.")
    published_from: date | None = Field(None, description="Only articles published on or after this ISO date.")
    published_to: date | None = Field(None, description="Only articles published on or before this ISO date.")

    def to_filters(self) -> Filters:
        return Filters(
            sources=self.sources or None,
            published_from=self.published_from.isoformat() if self.published_from else None,
            published_to=self.published_to.isoformat() if self.published_to else None,
        )


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": "Who brokered the deal?"}]})

    question: str = Field(description="The question; a follow-up is rewritten into a standalone one using `history`.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    k: int | None = Field(None, ge=1, le=50, description="Passages given to the answerer (default: the `top_k` setting).")
    filters: FiltersIn | None = None

    def engine_args(self) -> dict:
        return {
            "question": self.question,
            "history": [turn.model_dump() for turn in self.history] or None,
            "k": self.k,
            "filters": self.filters.to_filters() if self.filters else None,
        }


class Citation(BaseModel):
    n: int
    doc_id: str
    title: str
    source: str
    published: str | None
    passage: str
    passage_start: int
    evidence: str = Field(description="The cited sentence: the document's `text[start:end]`.")
    start: int
    end: int


class Answer(BaseModel):
    """The answer contract (documentation only: the engine's dict is returned unchanged)."""

    question: str
    standalone_question: str
    answer: str = Field(description="Answer text with [n] markers pointing into `citations`.")
    short_answer: str | None
    abstained: bool
    confidence: float
    citations: list[Citation]
    mode: str
    timings: dict[str, float]


class ArticleIn(BaseModel):
    """An article already read from a file by `app.py ingest` on this machine (see assistant/remote.py)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    title: str
    source: str
    published: date | None = Field(None, description="ISO date the article was published.")
    author: str | None = None
    subject: str | None = None
    key: str | None = Field(None, description="Identity across versions (URL, or file plus record); defaults to source.")

    def article(self) -> Article:
        values = self.model_dump()
        values["published"] = self.published.isoformat() if self.published else None
        return Article(**values)


class ArticlesIn(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1, max_length=1000)


class FeedbackIn(BaseModel):
    question: str = Field(min_length=1, max_length=10_000)
    answer: str = Field(max_length=100_000)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=feedback.MAX_COMMENT_CHARS)


# --- helpers shared with the chat page ---------------------------------------------------------

def ingest_uploads(index: ArticleIndex, files: list[tuple[str, bytes]], max_bytes: int,
                   on_file: Callable[[int, int, str], None] | None = None) -> dict:
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

    summary = ingest(index, items(), progress=False)
    if summary.added + summary.replaced + summary.unchanged == 0:
        raise BadInput("nothing usable in the upload: " + "; ".join(summary.errors or ["no articles found"]))
    return summary.as_dict()


def delete_document(index: ArticleIndex, doc_id: str) -> None:
    """NotFound for an unknown id. Chroma is checked first: the catalog commits the delete before
    Chroma's vectors go, so a 503 from that later step would be a refusal that had already deleted."""
    index.vectors.heartbeat()  # StoreUnavailable (503) before anything changes
    if not index.delete(doc_id):
        raise NotFound(f"no document with id {doc_id!r}; GET /api/documents lists the ids")


def health(engine: AnswerEngine, full: bool = False) -> dict:
    counts = engine.retriever.index.health(full)  # StoreUnavailable (503) when Chroma cannot be reached
    status = "ok" if not counts["index"]["state"].startswith("inconsistent") else "degraded"
    return {"status": status, **counts, "mode": engine.answerer.mode}


def stream_failure(exc: Exception, where: str) -> str:
    """The message for a failure inside a stream already under way: a project error's own message,
    anything else logged with its traceback and reported without internals."""
    if isinstance(exc, AssistantError):
        return str(exc)
    log.error("unhandled error while streaming %s", where, exc_info=exc)
    return "internal server error while streaming the answer; see the server log"


def sse_events(events: Iterable[dict]) -> Iterator[bytes]:
    """Engine events as SSE: `event: rewrite|token|answer`, JSON data. Any failure midway (the 200 has
    gone out) ends the stream with an `error` event {"error": message} instead of a cut connection:
    a project error's own message, else a generic one, with the traceback in the server log."""
    try:
        for event in events:
            name = event["event"]
            data = event["data"] if name == "answer" else {k: v for k, v in event.items() if k != "event"}
            yield format_sse_event(event=name, data_str=json.dumps(data, ensure_ascii=False))
    except Exception as exc:
        yield format_sse_event(event="error", data_str=json.dumps({"error": stream_failure(exc, "/api/ask/stream")}))


# --- routes ------------------------------------------------------------------------------------

@router.post("/ask", responses={200: {"model": Answer}})
def ask(body: AskRequest, engine: EngineDep) -> dict[str, Any]:
    """Answer a question from the loaded articles, with citations."""
    return engine.ask(**body.engine_args())


# Not `response_class=EventSourceResponse`: FastAPI then iterates whatever the route returns, and this
# route must return a response (after the first event) so that a bad question is still a plain 422.
@router.post("/ask/stream", responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}})
def ask_stream(body: AskRequest, engine: EngineDep) -> EventSourceResponse:
    """Server-sent events: `rewrite` {standalone_question}, `token` {text}..., then `answer` {contract}."""
    events = engine.stream(**body.engine_args())
    first = next(events)  # a bad question raises here, so it is a 422 and not a broken 200 stream
    return EventSourceResponse(sse_events(itertools.chain([first], events)), headers={"Cache-Control": "no-cache"})


@router.get("/documents")
def list_documents(engine: EngineDep) -> list[dict[str, Any]]:
    """Every indexed article with its passage count."""
    return engine.retriever.index.documents()


@router.get("/documents/{doc_id}", responses=NOT_FOUND)
def get_document(doc_id: str, engine: EngineDep) -> dict[str, Any]:
    """One article with its full `text` (citation offsets index into it)."""
    document = engine.retriever.index.document(doc_id)
    if document is None:
        raise NotFound(f"no document with id {doc_id!r}; GET /api/documents lists the ids")
    return document


@router.post("/documents")
def upload_documents(
    files: Annotated[list[UploadFile], File(description=f"One or more files: {', '.join(SUPPORTED_SUFFIXES)}")],
    engine: EngineDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Ingest uploaded files. Per-file errors are listed in `errors`; the good files are ingested."""
    contents = [(Path(f.filename or "upload").name, f.file.read()) for f in files]
    return ingest_uploads(engine.retriever.index, contents, int(settings.max_upload_mb * 2**20))


@router.post("/articles")
def add_articles(body: ArticlesIn, engine: EngineDep) -> dict[str, Any]:
    """Ingest articles sent as JSON; `app.py ingest` uses this while a server holds its data directory."""
    articles = [article.article() for article in body.articles]
    return ingest(engine.retriever.index, articles, progress=False).as_dict()


@router.delete("/documents/{doc_id}", responses=NOT_FOUND)
def remove_document(doc_id: str, engine: EngineDep) -> dict[str, str]:
    delete_document(engine.retriever.index, doc_id)
    return {"deleted": doc_id}


@router.get("/health")
def get_health(engine: EngineDep, full: bool = False) -> dict[str, Any]:
    """Document and passage counts and whether the vector index matches the catalog (`index`; by count,
    or with `full=true` id by id); 503 when the vector store cannot be reached."""
    return health(engine, full)


@router.post("/feedback", status_code=201)
def post_feedback(body: FeedbackIn, settings: SettingsDep) -> dict[str, Any]:
    """Store a thumbs up/down for an answer in `data_dir/feedback.jsonl`."""
    return feedback.record(settings.data_dir, body.question, body.answer, body.rating, body.comment, via="api")
