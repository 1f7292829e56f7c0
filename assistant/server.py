"""One server for everything: the chat page at `/`, the REST API at `/api`, an OpenAI-compatible API
at `/v1`, and the OpenAPI docs at `/docs`. `build_app` wires the parts; `serve` runs it with uvicorn.

Access control (setting `api_keys`, env `NEWSQA_API_KEYS="key1,key2"`): when it is non-empty,
- `/api/*` and `/v1/*` need the header `Authorization: Bearer KEY` (401 JSON otherwise). The OpenAI
  client sends it when given `api_key=KEY`; the "Authorize" button on `/docs` sets it too.
- the chat page shows a log-in form: type any user name and one of the keys as the password
  (`gradio_client.Client(url, auth=("me", KEY))` does the same from code).
Keys are compared with `hmac.compare_digest`. The server binds 127.0.0.1 unless `host` says otherwise.
Five wrong keys or log-ins from one address within a minute lock it out for a minute (429 with
`Retry-After`, a right key included); slow headers or bodies are cut off (see `assistant/guards.py`).

Errors: project exceptions become `{"error": message}` with their status (BadInput 422, TooLarge 413,
NotFound 404, StoreUnavailable 503); a malformed request is a 422 that says what was wrong, a body that
cannot be read a 400, a slow one a 408. Under `/v1` the same errors take OpenAI's shape
`{"error": {"message", "type", "param", "code"}}`. `assistant/http_errors.py` documents both shapes.
"""

import contextlib
import hmac
import logging
import os
import time
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from assistant import api, openai_api
from assistant.engine import AnswerEngine
from core.errors import AssistantError
from assistant.guards import (AuthThrottle, BodyGuard, FailedAuthGuard, Limits, OriginGuard, allowed_hosts,
                              reject_lone_surrogates, uvicorn_options)
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024  # form boundaries and part headers on top of the files themselves
OPENAI_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 408: "timeout_error",
                      429: "rate_limit_error",
                      413: "invalid_request_error", 422: "invalid_request_error", 503: "service_unavailable"}

bearer = HTTPBearer(auto_error=False, description="One of the server's api_keys (only needed when api_keys is set).")


# --- access ------------------------------------------------------------------------------------

def key_is_valid(settings: Settings, key: str | None) -> bool:
    given = (key or "").encode()
    return any(hmac.compare_digest(given, allowed.encode()) for allowed in settings.api_keys)


def require_api_key(settings: Annotated[Settings, Depends(get_settings)],
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    if not settings.api_keys:
        return
    if credentials is None or credentials.scheme.lower() != "bearer" or not key_is_valid(settings, credentials.credentials):
        raise HTTPException(401, "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})


def chat_login(settings: Settings):
    """Gradio's log-in check for the chat page: any user name, an API key as the password."""
    if not settings.api_keys:
        return None
    return lambda username, password: key_is_valid(settings, password)


# --- errors ------------------------------------------------------------------------------------

def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> JSONResponse:
    if request.url.path.startswith("/v1"):
        kind = OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    else:
        body = {"error": message}
    return JSONResponse(body, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return f"the request body is not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "invalid request: " + "; ".join(problems)


def add_error_handlers(app: FastAPI) -> None:
    async def on_assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc))

    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, validation_message(exc))

    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 413:
            message = f"the request is larger than the upload limit of {request.app.state.settings.max_upload_mb:g} MB (setting max_upload_mb)"
        return error_response(request, exc.status_code, message, getattr(exc, "headers", None))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "internal server error; see the server log")

    app.add_exception_handler(AssistantError, on_assistant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


# --- wiring ------------------------------------------------------------------------------------

def index_samples(engine: AnswerEngine, settings: Settings) -> None:
    """First start: an empty index gets the bundled sample articles, so the page can answer at once."""
    from index.ingest import ensure_sample

    if not settings.sample_path.exists():
        return
    summary = ensure_sample(engine.retriever.index, settings.sample_path)
    if summary:
        log.info("indexed the samples in %s: %s", settings.sample_path, summary.line())


def build_app(settings: Settings | None = None, engine: AnswerEngine | None = None, limits: Limits | None = None) -> FastAPI:
    """The whole server as an ASGI app. Models load here (once), not on the first request. `limits`:
    timeouts and the failed-key throttle (`assistant.guards`), defaults unless a test hands in others."""
    from assistant import ui

    settings = settings or get_settings()
    if engine is None:
        engine = AnswerEngine.from_settings(settings)
        index_samples(engine, settings)
        engine.warm_up()
    else:
        index_samples(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        engine.close()  # answer worker processes stop with the server

    app = FastAPI(title="News QA", summary="Answers from loaded news articles, with citations.",
                  docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.dependency_overrides[get_settings] = lambda: settings
    limits = limits or Limits()
    limit = int(settings.max_upload_mb * 2**20) + MULTIPART_SLACK
    protected = [Depends(require_api_key), Depends(reject_lone_surrogates)]
    app.include_router(api.router, dependencies=protected)
    app.include_router(openai_api.router, dependencies=protected)
    add_error_handlers(app)
    # Body size and time for every path (the chat page's uploads too), then the failed-key throttle
    # outside it, so a locked-out client is refused before its body is read.
    too_large = f"the request is larger than the upload limit of {settings.max_upload_mb:g} MB (setting max_upload_mb)"
    app.add_middleware(BodyGuard, max_bytes=limit, too_large=too_large, timeout_s=limits.body_timeout_s, respond=error_response)
    app.state.auth_throttle = AuthThrottle(limits)
    app.add_middleware(FailedAuthGuard, throttle=app.state.auth_throttle, respond=error_response)
    app.add_middleware(OriginGuard, allowed_hosts=allowed_hosts(settings.host, settings.allowed_hosts), respond=error_response)

    import gradio as gr

    login = chat_login(settings)
    return gr.mount_gradio_app(
        app, ui.build_ui(engine, settings), path="/", auth=login, ssr_mode=False, theme=ui.theme(), css=ui.CSS,
        auth_message="Log in with any user name and one of the server's API keys as the password." if login else None,
        max_file_size=int(settings.max_upload_mb * 2**20), footer_links=["api"],
    )


def server_settings(settings: Settings, cores: int | None = None) -> Settings:
    """A server answers requests side by side: unless set, give the extractive answerer's spaCy
    the cores beyond the first (up to 4 worker processes)."""
    if settings.answer_workers is not None:
        return settings
    cores = cores or os.cpu_count() or 1
    return settings.model_copy(update={"answer_workers": min(4, max(0, cores - 1))})


def serve(settings: Settings | None = None) -> None:
    """Build everything, bind the port, print how long start-up took and where to go, then serve."""
    import uvicorn

    started = time.perf_counter()
    settings = server_settings(settings or get_settings())
    app = build_app(settings)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any client on loopback,
    # and one could name a new address per guess to dodge the failed-key throttle.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", proxy_headers=False,
                            **uvicorn_options(Limits()))
    sock = config.bind_socket()  # fail on a busy port before claiming to be ready
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else host}:{settings.port}/"
    note = " (log in with any name and an API key)" if settings.api_keys else ""
    workers = settings.answer_workers
    pool = f" · answering in {workers} worker process{'es' if workers > 1 else ''}" if workers else ""
    claim = app.state.engine.retriever.index.claim
    if claim is not None:  # an embedded index: commands run beside the server go through it (index/owner.py)
        claim.announce(url.rstrip("/"))
    print(f"News QA started in {time.perf_counter() - started:.1f}s: chat {url}{note} · API docs {url}docs{pool}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
