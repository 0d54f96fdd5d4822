"""The `IdempotencyStore` port: reserve a (subject, key), then complete or release it.

A store keeps one entry per (subject, key). An entry is either *in progress* (reserved by one
request, identified by its token, until its lease runs out) or *completed* (the response,
until its TTL runs out). An expired entry of either kind counts as absent: the next
`reserve` takes it over. `reserve` must be atomic across every process sharing the store.

Every store decides with the same pure functions (`live_entry`, `may_complete`,
`may_release`) over a `Record` of what it keeps, so the rules live in this one module and a
store only has to make its read-decide-write atomic.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
"""Seconds since the epoch (`time.time`); stores take one so tests can move time."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as first sent: status, the stored headers in order, the exact body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reserved:
    """The caller holds the reservation of (subject, key); `token` proves it to the store."""

    subject: str
    key: str
    token: str


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request holds a live reservation for the request with `fingerprint`."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class Completed:
    """The request with `fingerprint` completed with `response`, still within its TTL."""

    fingerprint: str
    response: StoredResponse


Claim = Reserved | InProgress | Completed
Entry = InProgress | Completed


@dataclass(frozen=True, slots=True)
class Record:
    """What a store keeps under one (subject, key); `response` is None while in progress."""

    fingerprint: str
    token: str
    expires_at: float
    response: StoredResponse | None = None


def is_expired(expires_at: float, now: float) -> bool:
    """Whether a lease or TTL ending at `expires_at` has run out at `now` (Unix seconds)."""
    return expires_at <= now


def live_entry(record: Record | None, now: float) -> Entry | None:
    """What holds the key at `now`, or None: absent or expired, so `reserve` may take it over."""
    if record is None or is_expired(record.expires_at, now):
        return None
    if record.response is None:
        return InProgress(record.fingerprint)
    return Completed(record.fingerprint, record.response)


def may_complete(record: Record | None, token: str, now: float) -> bool:
    """Whether `token` still holds a live reservation that has no response yet."""
    if record is None or record.token != token:
        return False
    return isinstance(live_entry(record, now), InProgress)


def may_release(record: Record | None, token: str) -> bool:
    """Whether `token` holds the reservation (live or not); a response is never released."""
    return record is not None and record.token == token and record.response is None


class IdempotencyStore(Protocol):
    """Where reservations and completed responses live (in memory, SQL, ...)."""

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Atomically reserve the key if absent or expired, else say what holds it."""
        ...

    async def complete(
        self, reserved: Reserved, response: StoredResponse, *, ttl_seconds: float
    ) -> bool:
        """Store the response under the reservation; False if it was lost meanwhile."""
        ...

    async def release(self, reserved: Reserved) -> None:
        """Drop the reservation (if still held) so a retry runs the request again."""
        ...

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None when absent or expired."""
        ...
