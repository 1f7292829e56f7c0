"""An OpenAI-compatible API under `/v1`, so any OpenAI client or chat front end can ask the articles.

- `GET /v1/models` lists one model, `newsqa-<answer_mode>` (the `model` a request names is not checked).
- `POST /v1/chat/completions`, streaming or not: the last user message is the question and the
  messages before it are the history (system messages are ignored). The reply's content is the
  answer with [n] markers followed by a "Sources:" list; the structured answer rides along as extra
  fields: `citations` and `newsqa` (the full answer contract), on the response or, when streaming, on
  the last chunk before `data: [DONE]`. Optional extra body fields `k` and `filters` are passed on.
Errors use OpenAI's shape `{"error": {"message", "type", ...}}` (see `assistant.web.errors`).

Replies are built from the `openai` package's own types (`ChatCompletion`, `ChatCompletionChunk`,
`Model`), so a field the client expects cannot go missing or take the wrong type; the types allow
extra fields, which carry `citations` and `newsqa`. They are dumped with `exclude_unset`, so only the
fields set here go out.
"""

import itertools
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse, format_sse_event
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ConfigDict, Field

from assistant.answering.base import Answer
from assistant.condense import with_short_answer
from assistant.engine import AnswerEngine
from assistant.web.deps import EngineDep, FiltersIn
from assistant.web.errors import OPENAI_ERRORS, stream_failure
from core.errors import AssistantError, BadInput

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERRORS)

CREATED = 1_700_000_000  # a fixed "created" for the model list


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls... are accepted and ignored

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """The content as one string, however the client split it into parts."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, user... are accepted and ignored

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=50, description="Passages given to the answerer.")
    filters: FiltersIn | None = None

    def engine_args(self) -> dict:
        """The last user message as the question, the user and assistant turns before it as history."""
        users = [i for i, m in enumerate(self.messages) if m.role == "user"]
        if not users:
            raise BadInput("messages has no message with role 'user'; the last user message is the question")
        last = users[-1]
        history = [{"role": m.role, "content": m.text()} for m in self.messages[:last] if m.role in ("user", "assistant")]
        return {
            "question": self.messages[last].text(),
            "history": history or None,
            "k": self.k,
            "filters": self.filters.to_filters() if self.filters else None,
        }


def model_id(engine: AnswerEngine) -> str:
    return f"newsqa-{engine.answerer.mode}"


def sources_text(answer: Answer) -> str:
    """The "Sources:" list appended to the content: [n] title — source (date): "evidence"."""
    if answer.abstained or not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        date = f" ({c.published})" if c.published else ""
        lines.append(f"[{c.n}] {c.title} — {c.source}{date}: \"{c.evidence}\"")
    return "\n\nSources:\n" + "\n".join(lines)


def extras(answer: Answer) -> dict:
    """The fields no OpenAI type has: the citations, and the whole answer contract."""
    contract = answer.to_dict()
    return {"citations": contract["citations"], "newsqa": contract}


def dump(reply: ChatCompletion | ChatCompletionChunk | Model) -> dict[str, Any]:
    """JSON-ready, with only the fields set (and the extras), as OpenAI's own replies leave the rest out."""
    return reply.model_dump(mode="json", exclude_unset=True)


def completion(answer: Answer, model: str) -> ChatCompletion:
    """The whole answer as one `chat.completion`; usage counts words, for want of the model's tokens."""
    content = with_short_answer(answer.answer, answer.short_answer) + sources_text(answer)
    prompt_words = len(answer.question.split())
    completion_words = len(content.split())
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", "logprobs": None}],
        usage={"prompt_tokens": prompt_words, "completion_tokens": completion_words, "total_tokens": prompt_words + completion_words},
        **extras(answer),
    )


def chunks(events: Iterable[dict], model: str) -> Iterator[ChatCompletionChunk]:
    """Engine events as `chat.completion.chunk` objects: role, answer text, sources, then the final chunk."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict, finish: str | None = None, **extra) -> ChatCompletionChunk:
        return ChatCompletionChunk(**base, choices=[{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra)

    yield chunk({"role": "assistant", "content": ""})
    for event in events:
        if event["event"] == "token" and event["text"]:
            yield chunk({"content": event["text"]})
        elif event["event"] == "answer":
            answer = event["answer"]
            if sources := sources_text(answer):
                yield chunk({"content": sources})
            yield chunk({}, "stop", **extras(answer))


def sse_chunks(events: Iterable[dict], model: str) -> Iterator[bytes]:
    """Chunks as `data:` events, always ending with `data: [DONE]`. Any failure midway (the 200 has
    gone out) is reported in the stream as OpenAI does, `data: {"error": {...}}`, which the official
    client raises as `APIError`; the traceback of an unexpected one goes to the server log."""
    try:
        for item in chunks(events, model):
            yield format_sse_event(data_str=json.dumps(dump(item), ensure_ascii=False))
    except Exception as exc:
        client_side = isinstance(exc, AssistantError) and exc.status_code < 500
        error = {"message": stream_failure(exc, "/v1/chat/completions"),
                 "type": "invalid_request_error" if client_side else "server_error", "param": None, "code": None}
        yield format_sse_event(data_str=json.dumps({"error": error}))
    yield format_sse_event(data_str="[DONE]")


@router.get("/models")
def list_models(engine: EngineDep) -> dict[str, Any]:
    model = Model(id=model_id(engine), object="model", created=CREATED, owned_by="newsqa")
    return {"object": "list", "data": [dump(model)]}


@router.post("/chat/completions", response_model=None,
             responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}})
def chat_completions(body: ChatRequest, engine: EngineDep) -> dict[str, Any] | EventSourceResponse:
    """Answer the last user message; `stream: true` gives `data: {chunk}` events and `data: [DONE]`."""
    args = body.engine_args()
    model = model_id(engine)
    if not body.stream:
        return dump(completion(engine.answer(**args), model))
    events = engine.stream(**args)
    first = next(events)  # a bad question raises here, before the 200 goes out
    return EventSourceResponse(sse_chunks(itertools.chain([first], events), model), headers={"Cache-Control": "no-cache"})
