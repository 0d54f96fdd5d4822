"""Request ids: taken from a valid incoming header or generated, bound to every log line."""

import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

from structlog.contextvars import bind_contextvars, reset_contextvars

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("slipway_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return _request_id.get()


def new_request_id() -> str:
    """A fresh request id: 32 lowercase hex characters (128 random bits).

    `os.urandom(16).hex()` rather than `uuid.uuid4().hex`: same length and alphabet, no
    UUID object, ~1.3 us less per request.
    """
    return os.urandom(16).hex()


def incoming_request_id(headers: Iterable[tuple[bytes, bytes]], header_key: bytes) -> str | None:
    """The first `header_key` value of the request when it is a valid id, else None."""
    for name, value in headers:
        if name == header_key:
            # Only the first occurrence counts; a bad one is replaced, never repaired.
            if VALID_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            return None
    return None


RequestIdBinding = tuple[Token[str | None], Mapping[str, Token[Any]]]
"""What `bind_request_id` set, for `unbind_request_id` to reset."""


def bind_request_id(request_id: str) -> RequestIdBinding:
    """Make `request_id` current: for `current_request_id` and for every log line."""
    return _request_id.set(request_id), bind_contextvars(request_id=request_id)


def unbind_request_id(binding: RequestIdBinding) -> None:
    """Restore what was current before `bind_request_id`."""
    token, bound = binding
    reset_contextvars(**bound)
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
