"""The JSON error bodies of the HTTP edge as models, so that the OpenAPI schema (and the clients and
fuzzers that read it) documents what is really sent: `{"error": message}` under `/api`, OpenAI's
`{"error": {"message", "type", "param", "code"}}` under `/v1` (built by `server.error_response`).

Without these, FastAPI documented only 200 and a 422 of its own `{"detail": [...]}` shape, which no
route sends; schemathesis reported every 400, 404, 413 and 503 as undocumented.
"""

from pydantic import BaseModel, Field


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
