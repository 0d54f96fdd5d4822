"""Refuse request bodies over a size limit with a 413 problem, streamed bodies included."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.problems import problem_response

# What `BodyLimitMiddleware.framing` says a request needs.
PASS, REFUSE, COUNT = 0, 1, 2


class _BodyTooLargeError(Exception):
    """Raised from `receive` once the body passes the limit; the middleware answers 413."""


class BodyLimitMiddleware:
    """413 when Content-Length or the bytes actually received exceed `max_body_bytes`."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 and close the connection."""
        response = problem_response(
            scope, 413, detail=f"request body exceeds {self.max_body_bytes} bytes"
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

    def framing(self, scope: Scope) -> int:
        """What the HTTP request `scope` needs: `PASS`, `REFUSE` (413 now) or `COUNT`.

        HTTP/1.x frames the body by Content-Length (refused up front when over the limit; the
        server never delivers more) or, with neither header, has none: nothing to count. Only
        chunked bodies (and other protocols) are counted as they arrive.
        """
        chunked = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body_bytes:
                    return REFUSE
            elif name == b"transfer-encoding":
                chunked = True
        if scope.get("http_version", "1.1") in ("1.0", "1.1") and not chunked:
            return PASS
        return COUNT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length up front, then count streamed bytes as the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framing = self.framing(scope)
        if framing == PASS:
            await self.app(scope, receive, send)
        elif framing == REFUSE:
            await self.refuse(scope, receive, send)
        else:
            await self.counted(scope, receive, send)

    async def counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, counting the body's bytes as it reads them; 413 past the limit."""
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app answered the failed read (e.g. 400); 413 is sent instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLargeError:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self.refuse(scope, receive, send)
