"""Request ids: taken from a valid incoming header or generated, bound to every log line."""

import os
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("slipway_request_id", default=None)

# structlog keeps one ContextVar per bound key in this dict (unbound ones hold Ellipsis), None
# if its internals change. `bind_request_id` sets the one of `request_id` directly, as
# `bind_contextvars(request_id=...)` would, without its keyword and token-mapping overhead
# (~4.5 kIr per request); the access line reads these few instead of `get_contextvars()`,
# which walks every variable of the context.
STRUCTLOG_VARS: dict[str, ContextVar[Any]] | None = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
STRUCTLOG_REQUEST_ID = f"{structlog.contextvars.STRUCTLOG_KEY_PREFIX}request_id"
"""The name of structlog's variable for the bound `request_id`."""

_ID_BATCH = 64
"""Request ids read from the OS's random source at once (one `os.urandom` call)."""
_pending_ids: Iterator[str] = iter(())


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return _request_id.get()


def new_request_id() -> str:
    """A fresh request id: 32 lowercase hex characters (128 random bits).

    The bits are `os.urandom`'s, as with `os.urandom(16).hex()`, but read for `_ID_BATCH` ids
    at a time: one system call and one hex conversion per batch rather than per request.
    `next` on a list iterator is atomic, so threads never share an id; a forked child drops
    its parent's unused ids (`_forget_pending_ids`).
    """
    request_id = next(_pending_ids, None)
    return request_id if request_id is not None else _next_batch()


def _next_batch() -> str:
    global _pending_ids
    text = os.urandom(16 * _ID_BATCH).hex()
    ids = [text[start : start + 32] for start in range(0, len(text), 32)]
    _pending_ids = iter(ids[1:])
    return ids[0]


def _forget_pending_ids() -> None:
    global _pending_ids
    _pending_ids = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pending_ids)


def incoming_request_id(headers: Iterable[tuple[bytes, bytes]], header_key: bytes) -> str | None:
    """The first `header_key` value of the request when it is a valid id, else None."""
    for name, value in headers:
        if name == header_key:
            # Only the first occurrence counts; a bad one is replaced, never repaired.
            if VALID_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            return None
    return None


RequestIdBinding = tuple[Token[str | None], Token[Any]]
"""What `bind_request_id` set (ours and structlog's), for `unbind_request_id` to reset."""


def bind_request_id(request_id: str) -> RequestIdBinding:
    """Make `request_id` current: for `current_request_id` and for every log line."""
    token = _request_id.set(request_id)
    var = STRUCTLOG_VARS.get(STRUCTLOG_REQUEST_ID) if STRUCTLOG_VARS is not None else None
    if var is None:  # never bound yet: structlog creates and registers its variable
        return token, bind_contextvars(request_id=request_id)["request_id"]
    return token, var.set(request_id)


def unbind_request_id(binding: RequestIdBinding) -> None:
    """Restore what was current before `bind_request_id`."""
    token, structlog_token = binding
    structlog_token.var.reset(structlog_token)
    _request_id.reset(token)


class RequestIdMiddleware:
    """Pure ASGI middleware: accept or generate a request id, bind it, echo it back."""

    def __init__(self, app: ASGIApp, *, header: str = "X-Request-ID") -> None:
        self.app = app
        self.header = header
        self._header_key = header.lower().encode("latin-1")

    def _incoming_id(self, scope: Scope) -> str | None:
        return incoming_request_id(scope.get("headers", ()), self._header_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the request id bound for its whole duration."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = self._incoming_id(scope) or new_request_id()
        header_value = request_id.encode("ascii")
        header_key = self._header_key

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != header_key]
                headers.append((header_key, header_value))
                message["headers"] = headers
            await send(message)

        binding = bind_request_id(request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            unbind_request_id(binding)
