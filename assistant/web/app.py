"""One server for everything: the chat page at `/`, the REST API at `/api`, an OpenAI-compatible API
at `/v1`, and the OpenAPI docs at `/docs`. `build_app` only wires the parts; `serve` runs it with
uvicorn. Who may call it is in `auth.py`, what is refused before a route runs in `guards.py`, the
error bodies in `errors.py`, the routes in `routes/`, the chat page in `ui.py`.
"""

import contextlib
import os
import time

from fastapi import Depends, FastAPI

from assistant import services
from assistant.engine import AnswerEngine
from assistant.web.auth import LOGIN_MESSAGE, AuthThrottle, FailedAuthGuard, chat_login, require_api_key
from assistant.web.errors import add_error_handlers, error_response, too_large_message
from assistant.web.guards import BodyGuard, Limits, OriginGuard, allowed_hosts, reject_lone_surrogates, uvicorn_options
from assistant.web.routes import ask, documents, feedback, health, openai
from core.settings import Settings, get_settings

MULTIPART_SLACK = 64 * 1024  # form boundaries and part headers on top of the files themselves


def build_app(settings: Settings | None = None, engine: AnswerEngine | None = None, limits: Limits | None = None) -> FastAPI:
    """The whole server as an ASGI app. Models load here (once), not on the first request. `limits`:
    timeouts and the failed-key throttle (`assistant.web.guards`), defaults unless a test hands in others."""
    import gradio as gr  # the chat page's imports take seconds: only when an app is built

    from assistant.web import ui

    settings = settings or get_settings()
    if engine is None:
        engine = AnswerEngine.from_settings(settings)
        services.index_samples(engine, settings.sample_path)
        engine.warm_up()
    else:
        services.index_samples(engine, settings.sample_path)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        engine.close()  # answer worker processes stop with the server

    app = FastAPI(title="News QA", summary="Answers from loaded news articles, with citations.",
                  docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.dependency_overrides[get_settings] = lambda: settings
    protected = [Depends(require_api_key), Depends(reject_lone_surrogates)]
    for module in (ask, documents, health, feedback, openai):
        app.include_router(module.router, dependencies=protected)
    add_error_handlers(app)
    # Body size and time for every path (the chat page's uploads too), then the failed-key throttle
    # outside it, so a locked-out client is refused before its body is read.
    limits = limits or Limits()
    app.add_middleware(BodyGuard, max_bytes=int(settings.max_upload_mb * 2**20) + MULTIPART_SLACK,
                       too_large=too_large_message(settings.max_upload_mb), timeout_s=limits.body_timeout_s,
                       respond=error_response)
    app.state.auth_throttle = AuthThrottle(limits)
    app.add_middleware(FailedAuthGuard, throttle=app.state.auth_throttle, respond=error_response)
    app.add_middleware(OriginGuard, allowed_hosts=allowed_hosts(settings.host, settings.allowed_hosts), respond=error_response)

    login = chat_login(settings)
    return gr.mount_gradio_app(
        app, ui.build_ui(engine, settings), path="/", auth=login, ssr_mode=False, theme=ui.theme(), css=ui.CSS,
        auth_message=LOGIN_MESSAGE if login else None, max_file_size=int(settings.max_upload_mb * 2**20),
        footer_links=["api"],
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
    claim = app.state.engine.index.claim
    if claim is not None:  # an embedded index: commands run beside the server go through it (index/owner.py)
        claim.announce(url.rstrip("/"))
    print(f"News QA started in {time.perf_counter() - started:.1f}s: chat {url}{note} · API docs {url}docs{pool}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
