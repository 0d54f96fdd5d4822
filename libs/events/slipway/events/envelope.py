"""`Event`: the envelope every event travels in, from the outbox through streams to consumers.

`id` is unique per event and stays the same on every redelivery: delivery is at least once,
so consumers de-duplicate on it. `stream` names the stream the event is appended to (one per
aggregate family or tenant, e.g. a namespace); `key` orders events: those with the same key
are published in the order they were committed.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson


def new_event_id() -> str:
    """A fresh event id (a random UUID, 32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One event: what happened (`type`, `payload`), where it goes (`stream`), its identity."""

    stream: str
    type: str
    payload: Mapping[str, Any]
    key: str = ""
    id: str = field(default_factory=new_event_id)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> bytes:
        """The event as JSON (what streams store)."""
        return orjson.dumps(
            {
                "id": self.id,
                "stream": self.stream,
                "type": self.type,
                "key": self.key,
                "occurred_at": self.occurred_at.isoformat(),
                "payload": self.payload,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Event":
        """The event `to_json` wrote; raises `ValueError` on anything else."""
        try:
            data = orjson.loads(raw)
            occurred_at = datetime.fromisoformat(data["occurred_at"])
            event = cls(
                stream=str(data["stream"]),
                type=str(data["type"]),
                payload=dict(data["payload"]),
                key=str(data.get("key", "")),
                id=str(data["id"]),
                occurred_at=occurred_at,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a slipway event: {exc}") from None
        if occurred_at.tzinfo is None:
            raise ValueError("not a slipway event: occurred_at has no timezone")
        return event


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """An event as read back from a stream, with the stream's id of it (for resuming)."""

    entry_id: str
    event: Event
