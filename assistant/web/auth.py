"""Who may use the server: API keys on `/api` and `/v1`, the chat page's log-in, and the throttle
that stops a client guessing keys.

Access control (setting `api_keys`, env `NEWSQA_API_KEYS="key1,key2"`): when it is non-empty,
- `/api/*` and `/v1/*` need the header `Authorization: Bearer KEY` (401 JSON otherwise). The OpenAI
  client sends it when given `api_key=KEY`; the "Authorize" button on `/docs` sets it too.
- the chat page shows a log-in form: type any user name and one of the keys as the password
  (`gradio_client.Client(url, auth=("me", KEY))` does the same from code).
Keys are compared with `hmac.compare_digest`. The server binds 127.0.0.1 unless `host` says otherwise.

**Guessed keys** (`AuthThrottle`, `FailedAuthGuard`): a hostile tester sent 40 wrong keys in 2.6 s, and
nothing slowed the guessing. After `failed_auth_max` failures within `failed_auth_window_s`
(`assistant.web.guards.Limits`), a client (IP address) gets 429 with `Retry-After` for
`failed_auth_window_s`, on `/api`, `/v1` and the chat page's log-in, a right key included.
"""

import hmac
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.web.guards import Limits, Respond
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

LOGIN_MESSAGE = "Log in with any user name and one of the server's API keys as the password."

bearer = HTTPBearer(auto_error=False, description="One of the server's api_keys (only needed when api_keys is set).")


# --- keys ---------------------------------------------------------------------------------------

def key_is_valid(settings: Settings, key: str | None) -> bool:
    """Constant-time comparison against every configured key, so timing tells a guesser nothing."""
    given = (key or "").encode()
    return any(hmac.compare_digest(given, allowed.encode()) for allowed in settings.api_keys)


def require_api_key(settings: Annotated[Settings, Depends(get_settings)],
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """A router dependency: 401 with `WWW-Authenticate` unless keys are off or a right one came."""
    if not settings.api_keys:
        return
    if credentials is None or credentials.scheme.lower() != "bearer" or not key_is_valid(settings, credentials.credentials):
        raise HTTPException(401, "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})


def chat_login(settings: Settings) -> Callable[[str, str], bool] | None:
    """Gradio's log-in check for the chat page: any user name, an API key as the password."""
    if not settings.api_keys:
        return None
    return lambda username, password: key_is_valid(settings, password)


# --- guessed keys -------------------------------------------------------------------------------

class AuthThrottle:
    """Failed authentications per client, in memory: `failed_auth_max` failures within the window
    lock the client out for the window. While locked out every attempt is refused, a correct key
    included (checking it would let a guesser go on guessing), and refused attempts do not extend
    the lock. A success clears the client's failures. At most `failed_auth_clients` clients are
    remembered; entries older than the window are dropped as others are recorded."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.max_failures = limits.failed_auth_max
        self.window = limits.failed_auth_window_s
        self.max_clients = limits.failed_auth_clients
        self.clock = clock
        self._clients: OrderedDict[str, tuple[deque, float]] = OrderedDict()  # client -> (failure times, locked until)

    def __len__(self) -> int:
        return len(self._clients)

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        entry = self._clients.get(client)
        if entry is None:
            return 0
        remaining = entry[1] - self.clock()
        return math.ceil(remaining) if remaining > 0 else 0

    def failed(self, client: str) -> None:
        now = self.clock()
        failures, locked_until = self._clients.pop(client, (deque(), 0.0))
        if locked_until > now:
            self._clients[client] = (failures, locked_until)
            return
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        failures.append(now)
        if len(failures) >= self.max_failures:
            failures.clear()
            locked_until = now + self.window
            log.warning("%d failed authentications from %s within %gs: refusing it for %gs",
                        self.max_failures, client, self.window, self.window)
        self._clients[client] = (failures, locked_until)
        self._forget(now)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def _forget(self, now: float) -> None:
        """Drop the least recently failed clients: those past the window, and any beyond the bound."""
        while self._clients:
            oldest, (failures, locked_until) = next(iter(self._clients.items()))
            stale = locked_until <= now and (not failures or failures[-1] <= now - self.window)
            if not stale and len(self._clients) <= self.max_clients:
                break
            del self._clients[oldest]


class FailedAuthGuard:
    """Counts failed authentications from the responses, so one place covers every door: a 401 from
    `/api` or `/v1` to a request that sent an `Authorization` header (a wrong key; a request without
    one is not a guess), and a 400 from the chat page's `POST /login` (Gradio's "Incorrect
    credentials": its auth callback gets only user name and password, no client address, so the
    throttle cannot live there). A locked-out client gets 429 with `Retry-After` on those paths."""

    def __init__(self, app: ASGIApp, throttle: AuthThrottle, respond: Respond, login_path: str = "/login"):
        self.app = app
        self.throttle = throttle
        self.respond = respond
        self.login_paths = {login_path, login_path + "/"}

    def _door(self, scope: Scope) -> str | None:
        path = scope.get("path", "")
        if path.startswith(("/api/", "/v1/")):
            return "api"
        if scope.get("method") == "POST" and path in self.login_paths:
            return "login"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = self._door(scope) if scope["type"] == "http" else None
        if door is None:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if wait := self.throttle.retry_after(client):
            message = f"too many failed log-ins or API keys from {client}; try again in {wait} seconds"
            response = self.respond(Request(scope), 429, message, {"Retry-After": str(wait)})
            await response(scope, receive, send)
            return
        presented = door == "login" or any(name == b"authorization" for name, _ in scope.get("headers", ()))

        async def observing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and presented:
                status = message["status"]
                if (door == "api" and status == 401) or (door == "login" and status == 400):
                    self.throttle.failed(client)
                elif status < 400:
                    self.throttle.succeeded(client)
            await send(message)

        await self.app(scope, receive, observing_send)
