"""`ResponseRecorder`: passes a response through while keeping a copy small enough to store."""

from collections.abc import Awaitable, Callable

from starlette.types import Message, Send

from slipway.web.idempotency.store import StoredResponse

OnFinished = Callable[[StoredResponse | None], Awaitable[None]]


class ResponseRecorder:
    """An ASGI `send` that records status, chosen headers and body up to `max_body_bytes`.

    Just before the last body message goes out, `on_finished` gets the recorded response,
    or None when it cannot be stored whole (too large, or not a plain `http.response.body`
    stream). The client's bytes are never held back: each message is forwarded as it comes.
    """

    def __init__(
        self,
        send: Send,
        *,
        stored_headers: tuple[str, ...],
        max_body_bytes: int,
        on_finished: OnFinished,
    ) -> None:
        self._send = send
        self._stored_headers = frozenset(name.encode("latin-1") for name in stored_headers)
        self._max_body_bytes = max_body_bytes
        self._on_finished = on_finished
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._chunks: list[bytes] | None = []
        self._size = 0
        self.finished = False

    async def __call__(self, message: Message) -> None:
        """Record `message`, report the response before its last part, then forward it."""
        kind = message["type"]
        if kind == "http.response.start":
            self._start(message)
        elif kind == "http.response.body":
            self._record(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish()
        elif not self.finished:
            self._chunks = None  # pathsend, trailers, ...: not a response we can replay
        await self._send(message)

    def _start(self, message: Message) -> None:
        self._status = int(message["status"])
        self._headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in message.get("headers", ())
            if name.lower() in self._stored_headers
        ]

    def _record(self, chunk: bytes) -> None:
        if self._chunks is None or self.finished:
            return
        self._size += len(chunk)
        if self._size > self._max_body_bytes:
            self._chunks = None  # too large: forwarded, never buffered further
            return
        self._chunks.append(chunk)

    async def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self._chunks is None:
            await self._on_finished(None)
            return
        body = b"".join(self._chunks)
        await self._on_finished(StoredResponse(self._status, tuple(self._headers), body))
