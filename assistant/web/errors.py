"""Errors at the HTTP edge: project exceptions (`core.errors`) and malformed requests become JSON with
their status, in the shape each API's clients expect: `{"error": message}` under `/api`, OpenAI's
`{"error": {"message", "type", "param", "code"}}` under `/v1`.

BadInput is 422, TooLarge 413, NotFound 404, StoreUnavailable 503 (each exception carries its status);
a malformed request is a 422 that says what was wrong, a body that cannot be read a 400, a slow one a
408. The guards (`assistant.web.guards`, `assistant.web.auth`) answer through `error_response` too,
so every refusal has the same shape.

The models below document those bodies in the OpenAPI schema. Without them FastAPI documented only 200
and a 422 of its own `{"detail": [...]}` shape, which no route sends; schemathesis reported every 400,
404, 413 and 503 as undocumented.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from core.errors import AssistantError

log = logging.getLogger(__name__)

OPENAI_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 408: "timeout_error",
                      429: "rate_limit_error",
                      413: "invalid_request_error", 422: "invalid_request_error", 503: "service_unavailable"}


# --- the bodies ---------------------------------------------------------------------------------

def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """The one place an error body is made, so that `/v1` clients (the openai package raises on its
    shape) and `/api` clients each get theirs, whichever layer refused the request."""
    if request.url.path.startswith("/v1"):
        kind = OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    else:
        body = {"error": message}
    return JSONResponse(body, status_code=status, headers=headers)


def too_large_message(max_upload_mb: float) -> str:
    """Every 413 says the same thing: the limit and the setting that raises it."""
    return f"the request is larger than the upload limit of {max_upload_mb:g} MB (setting max_upload_mb)"


def validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of problems as one sentence naming each field (or the JSON that did not parse)."""
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return f"the request body is not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "invalid request: " + "; ".join(problems)


def stream_failure(exc: Exception, where: str) -> str:
    """The message for a failure inside a stream already under way (the 200 has gone out, so no
    handler can answer): a project error's own message, anything else logged with its traceback and
    reported without internals."""
    if isinstance(exc, AssistantError):
        return str(exc)
    log.error("unhandled error while streaming %s", where, exc_info=exc)
    return "internal server error while streaming the answer; see the server log"


def add_error_handlers(app: FastAPI) -> None:
    """Project exceptions, validation errors, Starlette's HTTP errors and anything unexpected, all
    through `error_response`; an unexpected error's traceback goes to the log, not to the client."""
    async def on_assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc))

    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, validation_message(exc))

    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 413:
            message = too_large_message(request.app.state.settings.max_upload_mb)
        return error_response(request, exc.status_code, message, getattr(exc, "headers", None))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "internal server error; see the server log")

    app.add_exception_handler(AssistantError, on_assistant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


# --- the bodies as documented in the OpenAPI schema ----------------------------------------------

class Error(BaseModel):
    error: str = Field(description="What was wrong, and what to do about it.")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, rate_limit_error, ...")
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


# Statuses any route may answer with (the middleware and the request checks stand before every route).
STATUSES = {
    400: "The body could not be read: not UTF-8, or broken multipart.",
    401: "A missing or wrong API key (only when the server has `api_keys`).",
    408: "The body did not arrive in time.",
    413: "The body is larger than the upload limit (setting `max_upload_mb`).",
    422: "A malformed request, or input the engine cannot use; the message says which.",
    429: "Too many failed API keys or log-ins from this client; see `Retry-After`.",
    503: "The vector store (Chroma) cannot be reached; retry once it is back.",
}


def documented(model: type[BaseModel], statuses: dict[int, str] = STATUSES) -> dict[int | str, dict]:
    """`responses=` for FastAPI: each status with its description and the error body's model."""
    return {status: {"model": model, "description": description} for status, description in statuses.items()}


API_ERRORS = documented(Error)
OPENAI_ERRORS = documented(OpenAIError)
NOT_FOUND = documented(Error, {404: "No document with that id."})
