"""What the HTTP edge refuses before a route runs, found by a hostile tester against `app.py serve`:

- **Slow senders** (`header_protocol`, `BodyGuard`): uvicorn 0.54 has a keep-alive timeout but no
  timeout for reading a request, so a client that sent half its headers, or headers and then no
  body, held its connection for as long as it liked (still open after 15 s in a measurement, with
  no end in sight). Headers must now be complete within `Limits.header_timeout_s` of the connection
  opening (or of the previous response), else the connection is closed; a body must arrive within
  `Limits.body_timeout_s` of its headers, else a 408 JSON error and the connection is closed. At
  20 s, a 20 MB upload needs 1 MB/s: enough on loopback or a LAN, not on a slow uplink.
- **Large bodies** (`BodyGuard`): Starlette's own limit (`include_router(max_body_size=...)`) answered
  a Content-Length over the limit with a `text/plain` 413, as does Gradio's upload route. Every 413
  is now the project's JSON error naming the limit and the setting `max_upload_mb`; a body declared
  too large is refused before a byte of it is read.
- **Other sites** (`OriginGuard`): a page open in the reader's browser could post to a loopback
  server without keys (cross-site) or read it under its own host name (DNS rebinding).
- **Lone surrogates in JSON** (`reject_lone_surrogates`): JSON may carry "\\ud800", which Python
  decodes into a str that cannot be encoded as UTF-8, so it failed as a 500 wherever the text was
  first written (SQLite, Chroma), e.g. an article title sent to `/api/articles`.

Guessed keys are refused in `assistant.web.auth` (`AuthThrottle`, `FailedAuthGuard`), whose numbers
are in `Limits` too. Error bodies come from the `respond(request, status, message, headers)` handed in
(`assistant.web.errors.error_response`), so `/v1` keeps OpenAI's error shape.
"""

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import BadInput

log = logging.getLogger(__name__)

Respond = Callable[..., object]  # (request, status, message, headers) -> an ASGI response


@dataclass(frozen=True)
class Limits:
    """Timeouts and the failed-key throttle: defaults for `serve`; tests hand in shorter ones."""

    header_timeout_s: float = 10.0  # request line and headers, from connection (or last response) on
    body_timeout_s: float = 20.0  # the whole body, from the end of its headers on
    failed_auth_max: int = 5  # failed keys or log-ins ...
    failed_auth_window_s: float = 60.0  # ... within this long lock the client out for this long
    failed_auth_clients: int = 10_000  # clients remembered at most (the least recently failed go first)


# --- slow senders: the header deadline lives in uvicorn's protocol ---------------------------------

def header_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (httptools, else h11, as `http="auto"` picks) with a header
    deadline: armed when a connection opens and again when a response completes, it closes the
    connection if no request is under way by then. Pass it as `uvicorn.Config(http=...)`; ASGI apps
    are only called once headers are complete, so no middleware can do this."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeaderDeadline(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(header_timeout_s, self._passed)

        def _passed(self) -> None:
            under_way = self.cycle is not None and not self.cycle.response_complete
            upgraded = self.transport.get_protocol() is not self  # a WebSocket took the connection over
            if not under_way and not upgraded and not self.transport.is_closing():
                log.info("closed a connection from %s: no complete request headers within %gs", self.client, header_timeout_s)
                self.transport.close()

    return HeaderDeadline


def uvicorn_options(limits: Limits) -> dict:
    """Keyword arguments for `uvicorn.Config` that go with `limits` (the server and the tests share them)."""
    return {"http": header_protocol(limits.header_timeout_s), "timeout_keep_alive": 5}


class _Refused(Exception):
    """Raised into the app from `receive` once the guard has decided the answer."""


class BodyGuard:
    """413 for a body over `max_bytes` (at once when Content-Length says so, else as it arrives),
    408 for a body not complete within `timeout_s`, and any other 413 (Gradio's `text/plain` one)
    turned into the JSON error. Refusals close the connection: the rest of the body is never read."""

    def __init__(self, app: ASGIApp, max_bytes: int, too_large: str, timeout_s: float, respond: Respond):
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = too_large  # the message, naming the limit and the setting
        self.timeout_s = timeout_s
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: tuple[int, str] | None = None
        started = replaced = False
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._send_refusal(scope, send, 413, self.too_large)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        received = 0
        body_done = False

        async def guarded_receive() -> Message:
            nonlocal refusal, received, body_done
            if refusal:
                raise _Refused
            if body_done:  # afterwards only `http.disconnect` is awaited (streaming responses): no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                refusal = (408, f"the request body did not arrive within {self.timeout_s:g} seconds; send it at once")
                raise _Refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_bytes:
                    refusal = (413, self.too_large)
                    raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                status = message["status"]
                if refusal or (status == 413 and not _is_json(message)):
                    replaced = True
                    await self._send_refusal(scope, send, *(refusal or (413, self.too_large)))
                    return
                started = True
            if not replaced:
                await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not refusal:
                raise
        if refusal and not started and not replaced:
            await self._send_refusal(scope, send, *refusal)

    async def _send_refusal(self, scope: Scope, send: Send, status: int, message: str) -> None:
        if status == 408:
            log.info("408 for %s %s from %s: the body was too slow", scope.get("method"), scope.get("path"), scope.get("client"))
        response = self.respond(Request(scope), status, message, {"Connection": "close"})
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(message: Message) -> bool:
    return any(name == b"content-type" and b"json" in value for name, value in message.get("headers", ()))


# --- other sites in the reader's browser ----------------------------------------------------------

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _hostname(authority: str) -> str:
    """`127.0.0.1:7860` -> `127.0.0.1`, `[::1]:7860` -> `::1`, lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


class OriginGuard:
    """Refuses what a web page open in the reader's browser could otherwise do to a server without
    keys: a cross-site form post (a tester planted articles in a loopback server from a page with
    `Origin: https://evil.example`), or a DNS-rebinding page that reaches 127.0.0.1 under its own
    host name and reads the answers. So `Host` must be one of `allowed_hosts` (None: any), and a
    request that changes something (not GET/HEAD/OPTIONS) and comes with an `Origin` must come from
    this very server: the Origin's host and port equal the Host header. Clients that are not
    browsers (curl, the openai package, `app.py ingest`) send no Origin and are not affected."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None, respond: Respond):
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", ())}
        host = headers.get("host", "")
        problem = None
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            problem = (f"this server answers as {', '.join(sorted(self.allowed_hosts))}, not {host or 'no Host header'!r}; "
                       "to serve under another name add it to the setting allowed_hosts (NEWSQA_ALLOWED_HOSTS)")
        origin = headers.get("origin")
        if not problem and origin is not None and (scope["type"] == "websocket" or scope.get("method") not in _SAFE_METHODS):
            if origin.split("://", 1)[-1].rstrip("/").lower() != host.lower():
                problem = f"a request from the page at {origin!r} may not change anything on this server (cross-site request)"
        if problem is None:
            await self.app(scope, receive, send)
            return
        log.warning("403 for %s %s from %s: %s", scope.get("method", "WS"), scope.get("path"), scope.get("client"), problem)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.respond(Request(scope), 403, problem, None)(scope, receive, send)


def allowed_hosts(bind_host: str, configured: list[str]) -> frozenset[str] | None:
    """The Host names to answer to: those configured, else the loopback names when the server binds a
    loopback address (a page elsewhere can only reach it through DNS rebinding), else any."""
    if configured:
        return frozenset(_hostname(name) for name in configured)
    if _hostname(bind_host) in LOOPBACK_NAMES or bind_host.startswith("127."):
        return LOOPBACK_NAMES | {_hostname(bind_host)}
    return None


# --- lone surrogates in JSON ----------------------------------------------------------------------

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(value, where: str = "") -> tuple[str, str] | None:
    """(where, character) of the first string in a decoded JSON value that cannot be UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return where or "the body", f"U+{ord(value[exc.start]):04X}"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and (found := _lone_surrogate(key, where)):
            return found
        if found := _lone_surrogate(item, f"{where}.{key}" if where else str(key)):
            return found
    return None


async def reject_lone_surrogates(request: Request) -> None:
    """A dependency: BadInput (422) naming the field when a JSON body holds half a surrogate pair.
    Bodies without a `\\uD8..`-`\\uDF..` escape (nearly all) cost one byte scan; FastAPI has already
    read the body, so `request.body()` is a cached copy."""
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if not _SURROGATE_ESCAPE.search(body):
        return
    try:
        value = json.loads(body)
    except ValueError:
        return  # malformed JSON: FastAPI's own 422 says so
    if found := _lone_surrogate(value):
        where, char = found
        raise BadInput(f"{where} contains a lone surrogate ({char}), which is not text: send the characters "
                       "themselves, or a character beyond U+FFFF as a whole surrogate pair")
