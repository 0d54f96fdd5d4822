"""Decode a `text/event-stream` body incrementally, as chunks arrive (the WHATWG SSE rules).

The latency benchmark timestamps each network chunk on arrival and needs the events it
completes; this decoder keeps no clock and does no I/O, so it can be tested on its own.
"""

import codecs
from dataclasses import dataclass

DEFAULT_EVENT_TYPE = "message"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its type, its data lines joined by newlines, its id."""

    event: str
    data: str
    id: str | None


class ServerSentEventDecoder:
    """Feed it the body's bytes chunk by chunk; it returns the events each chunk completes.

    Lines end with CRLF, LF or CR; comment lines (`:`) and `retry` are ignored; an event is
    dispatched on a blank line if it has data, as the standard says.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by `chunk` (possibly none)."""
        self._pending += self._text.decode(chunk)
        events: list[ServerSentEvent] = []
        for line in self._complete_lines():
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _complete_lines(self) -> list[str]:
        text = self._pending
        # A trailing CR may be the first half of a CRLF split across chunks: keep it for later.
        hold = text.endswith("\r")
        if hold:
            text = text[:-1]
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = lines.pop() + ("\r" if hold else "")
        return lines

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event=event or DEFAULT_EVENT_TYPE, data="\n".join(data), id=self._id)
