"""`PlatformCycle`: uvicorn's httptools request/response cycle, with two changes.

1. **Each distinct response header is checked once.** Before writing a response head uvicorn
   scans every header's name and value with a regular expression each (`HEADER_RE`,
   `HEADER_VALUE_RE`), on every response. A platform response carries ~14 headers, most of
   them the same bytes every time (security headers, content type, rate-limit policy), and
   the scans are a per-character loop: 38 k instructions a request for the whole server
   under callgrind, against 9 k for a bare FastAPI app's four headers. Here a `(name,
   value)` pair of bytes that passed is remembered (a bounded dict), so seeing it again
   costs one lookup; any other pair is checked with uvicorn's own expressions.
2. **Draining closes connections here.** While the server's lifecycle is draining, a
   response is written with `Connection: close`, and the connection closes after it, as
   `slipway.web.draining.CloseWhenDraining` does from outside the app, without that ASGI
   layer's coroutine and `send` wrapper on every request.

Everything else is uvicorn's: the response head is built as its `send` builds it (the same
bytes, the same errors, the same state for the body that follows; pinned against uvicorn's
own cycle by test_response_cycle.py), and every other message, and every response while
writes are paused or uvicorn's access log is on, goes to uvicorn's `send` unchanged.
uvicorn offers no hook for either change: `with_cycle_class` gives the protocol
(`ProblemHttpToolsProtocol`) uvicorn's own `on_headers_complete`, unchanged, whose name for
the cycle class it builds each request's cycle from is this class.
"""

import types
from collections.abc import Callable
from typing import ClassVar, TypeVar, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

from slipway.web.draining import say_connection_close
from slipway.web.lifecycle import Lifecycle

CHECKED_HEADERS_LIMIT = 1024
"""At most this many header pairs are remembered as checked; then the memory starts over.

Pairs that change every response (request id, `traceresponse`, rate-limit counts) fill it;
starting over costs one clear per a few hundred responses, and the constant pairs are
remembered again by the next response."""

MethodT = TypeVar("MethodT", bound=Callable[..., object])
KeyT = TypeVar("KeyT", bytes, tuple[bytes, bytes])

_checked: dict[tuple[bytes, bytes], bytes] = {}
"""Header pairs that passed uvicorn's checks, each with its lower-cased name."""
_checked_names: dict[bytes, bytes] = {}
"""Header names that passed uvicorn's name check, each lower-cased."""
_INVALID_VALUE_BYTES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
"""What `HEADER_VALUE_RE` (`[\\x00-\\x08\\x0a-\\x1f\\x7f]`) matches, one byte each."""


def with_cycle_class(method: MethodT, cycle_class: type[RequestResponseCycle]) -> MethodT:
    """uvicorn's protocol `method`, building each request's cycle from `cycle_class`.

    The same code object, run with a copy of its module's globals in which the name
    `RequestResponseCycle` is `cycle_class`: no line of uvicorn is copied or patched, and
    uvicorn's module is left as it is. Refuses a method that does not use the name (a
    uvicorn that builds its cycles some other way).
    """
    function = cast(types.FunctionType, method)
    if "RequestResponseCycle" not in function.__code__.co_names:
        raise TypeError(f"{function.__qualname__} does not build a RequestResponseCycle")
    rebound = types.FunctionType(
        function.__code__,
        {**function.__globals__, "RequestResponseCycle": cycle_class},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__qualname__ = function.__qualname__
    rebound.__doc__ = function.__doc__
    return cast(MethodT, rebound)


def _checked_name(name: bytes, value: bytes) -> bytes:
    """The lower-cased name of a header uvicorn accepts; its error for one it refuses.

    A pair seen for the first time is mostly a known name with a new value (a request id,
    `traceresponse`, rate-limit counts): names that passed are remembered on their own, and
    a `bytes` value is checked by deleting the bytes `HEADER_VALUE_RE` matches, a C loop
    without the regex engine's per-character cost, which finds the same (pinned by
    test_response_cycle.py).
    """
    names = _checked_names
    try:
        lowered = names.get(name)
    except TypeError:  # unhashable (a bytearray): uvicorn's checks say what it makes of it
        lowered = None
    if lowered is None and HEADER_RE.search(name):
        raise RuntimeError("Invalid HTTP header name.")
    if type(value) is bytes:
        if len(value.translate(None, _INVALID_VALUE_BYTES)) != len(value):
            raise RuntimeError("Invalid HTTP header value.")
    elif HEADER_VALUE_RE.search(value):
        raise RuntimeError("Invalid HTTP header value.")
    if lowered is None:
        lowered = name.lower()
        if type(name) is bytes:
            _remember(names, name, lowered)
    return lowered


def _remember(memory: dict[KeyT, bytes], key: KeyT, lowered: bytes) -> None:
    """Remember `key` as checked; a full memory starts over (`CHECKED_HEADERS_LIMIT`)."""
    if len(memory) >= CHECKED_HEADERS_LIMIT:
        memory.clear()
    memory[key] = lowered


def _rememberable(pair: object) -> bool:
    """Whether `pair` is a tuple of two `bytes` (no subclass, nothing mutable)."""
    return (
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is bytes and type(pair[1]) is bytes
    )


class PlatformCycle(RequestResponseCycle):
    """uvicorn's cycle, checking each distinct header once and closing while draining."""

    lifecycle: ClassVar[Lifecycle | None] = None
    """The app's lifecycle (`limited_protocol` sets it): draining means `Connection: close`."""

    async def send(self, message: ASGISendEvent) -> None:
        """Write a response head as uvicorn does; hand everything else to uvicorn."""
        if (
            message["type"] != "http.response.start"
            or self.response_started
            or self.disconnected
            or self.flow.write_paused
            or self.access_log
        ):
            await super().send(message)
            return
        lifecycle = self.lifecycle
        if lifecycle is not None and lifecycle.draining:
            say_connection_close(message)  # type: ignore[arg-type]
        # From here on what uvicorn's send does for "http.response.start" (uvicorn 0.55),
        # the checks of each header aside.
        self.response_started = True
        self.waiting_for_100_continue = False

        status_code = message["status"]
        headers = self.default_headers + list(message.get("headers", []))

        content = [STATUS_LINE[status_code]]
        has_connection_close = False
        checked = _checked
        for pair in headers:
            name, value = pair
            try:
                lowered = checked.get(pair)
            except TypeError:  # unhashable: a list, or a bytearray in it
                lowered = None
            if lowered is None:
                lowered = _checked_name(name, value)
                if _rememberable(pair):
                    _remember(checked, pair, lowered)
            name = lowered
            if name == b"content-length" and self.chunked_encoding is None:
                self.expected_content_length = int(value.decode())
                self.chunked_encoding = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.expected_content_length = 0
                self.chunked_encoding = True
            elif name == b"connection":
                connection = [token.lower().strip() for token in value.split(b",")]
                if b"close" in connection:
                    self.keep_alive = False
                    has_connection_close = True
            content.extend([name, b": ", value, b"\r\n"])

        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")

        if (
            self.chunked_encoding is None
            and self.scope["method"] != "HEAD"
            and status_code not in (204, 304)
        ):
            # Neither content-length nor transfer-encoding specified
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")

        content.append(b"\r\n")
        self.transport.write(b"".join(content))
