"""Refuse over-long request targets (414) and over-large header blocks (431) with problems.

`RequestLimitsMiddleware` checks what reached the app; `slipway.web.server`'s protocol makes
uvicorn itself answer the same problems for requests too large to reach the app at all.
"""

from collections.abc import Iterable
from itertools import chain

from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.web.problems import problem_response

LIMITS_ENFORCED = "slipway.limits_enforced"
"""Scope key: (max URL bytes, max header bytes) the server already refused requests over.

`slipway.web.server`'s protocol sets it: it counts the target and the header block as they
arrived, before uvicorn strips header values' trailing whitespace, so a request it let
through is never over the same or larger limits here either.
"""


def target_bytes(scope: Scope) -> int:
    """The request target's length as sent: raw path, plus `?` and the query string."""
    raw_path = scope.get("raw_path")
    length = len(raw_path) if raw_path is not None else len(scope.get("path", "").encode())
    query: bytes = scope.get("query_string", b"")
    return length + 1 + len(query) if query else length


def header_bytes(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The size of a header block as HTTP/1.1 frames it: `name: value\\r\\n` per field."""
    fields = headers if isinstance(headers, (list, tuple)) else list(headers)
    # Summed in C (map over the flattened pairs), not by a generator step per field.
    return sum(map(len, chain.from_iterable(fields))) + 4 * len(fields)


class RequestLimitsMiddleware:
    """414 when the target exceeds `max_url_bytes`; 431 when headers exceed `max_header_bytes`."""

    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(414 or 431, detail) when the HTTP request `scope` is over a limit, else None."""
        enforced = scope.get(LIMITS_ENFORCED)
        if (
            enforced is not None
            and enforced[0] <= self.max_url_bytes
            and enforced[1] <= self.max_header_bytes
        ):
            return None  # the server refused whatever is over these limits while parsing
        if target_bytes(scope) > self.max_url_bytes:
            return 414, f"request target exceeds {self.max_url_bytes} bytes"
        if header_bytes(scope.get("headers", ())) > self.max_header_bytes:
            return 431, f"request headers exceed {self.max_header_bytes} bytes"
        return None

    async def refuse(
        self, scope: Scope, receive: Receive, send: Send, refusal: tuple[int, str]
    ) -> None:
        """Answer the `refusal` problem and close the connection."""
        status, detail = refusal
        # The problem's `instance` is the path; a huge one is not echoed back.
        short = {**scope, "path": scope.get("path", "")[:256], "root_path": ""}
        response = problem_response(short, status, detail=detail)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the problem, or pass the request on untouched."""
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                await self.refuse(scope, receive, send, refusal)
                return
        await self.app(scope, receive, send)
