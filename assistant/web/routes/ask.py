"""`POST /api/ask` and `POST /api/ask/stream`: a question in, the engine's answer contract out, as JSON
or as server-sent events.

Routes only validate the request and call the engine; the engine's typed `Answer` is rendered as JSON
(`Answer.to_dict`), and the same dataclass documents the response in the OpenAPI schema.
Project exceptions (`core.errors`) propagate to the handlers in `assistant.web.errors`.
"""

import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field

from assistant.answering.base import Answer
from assistant.web.deps import EngineDep, FiltersIn
from assistant.web.errors import API_ERRORS, stream_failure

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)


class Turn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": "Who brokered the deal?"}]})

    question: str = Field(description="The question; a follow-up is rewritten into a standalone one using `history`.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    k: int | None = Field(None, ge=1, le=50, description="Passages given to the answerer (default: the `top_k` setting).")
    filters: FiltersIn | None = None

    def engine_args(self) -> dict:
        """Keyword arguments for `engine.ask` and `engine.stream`."""
        return {
            "question": self.question,
            "history": [turn.model_dump() for turn in self.history] or None,
            "k": self.k,
            "filters": self.filters.to_filters() if self.filters else None,
        }


def sse_events(events: Iterable[dict]) -> Iterator[bytes]:
    """Engine events as SSE: `event: rewrite|token|answer`, JSON data. Any failure midway (the 200 has
    gone out) ends the stream with an `error` event {"error": message} instead of a cut connection:
    a project error's own message, else a generic one, with the traceback in the server log."""
    try:
        for event in events:
            name = event["event"]
            data = event["answer"].to_dict() if "answer" in event else {k: v for k, v in event.items() if k != "event"}
            yield format_sse_event(event=name, data_str=json.dumps(data, ensure_ascii=False))
    except Exception as exc:
        yield format_sse_event(event="error", data_str=json.dumps({"error": stream_failure(exc, "/api/ask/stream")}))


@router.post("/ask", responses={200: {"model": Answer}})
def ask(body: AskRequest, engine: EngineDep) -> dict[str, Any]:
    """Answer a question from the loaded articles, with citations."""
    return engine.answer(**body.engine_args()).to_dict()


# Not `response_class=EventSourceResponse`: FastAPI then iterates whatever the route returns, and this
# route must return a response (after the first event) so that a bad question is still a plain 422.
@router.post("/ask/stream", responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}})
def ask_stream(body: AskRequest, engine: EngineDep) -> EventSourceResponse:
    """Server-sent events: `rewrite` {standalone_question}; in the reader mode `evidence` {contract, no
    short answer yet} as soon as the evidence is chosen; `token` {text}...; then `answer` {contract}."""
    events = engine.stream(**body.engine_args())
    first = next(events)  # a bad question raises here, so it is a 422 and not a broken 200 stream
    return EventSourceResponse(sse_events(itertools.chain([first], events)), headers={"Cache-Control": "no-cache"})
