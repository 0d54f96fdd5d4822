"""The `IdempotencyStore` port: reserve a (subject, key), then complete or release it.

A store keeps one entry per (subject, key). An entry is either *in progress* (reserved by one
request, identified by its token, until its lease runs out) or *completed* (the response,
until its TTL runs out). An expired entry of either kind counts as absent: the next
`reserve` takes it over. `reserve` must be atomic across every process sharing the store.
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
    """The caller holds the reservation; `token` proves it to `complete` and `release`."""

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


class IdempotencyStore(Protocol):
    """Where reservations and completed responses live (in memory, SQL, ...)."""

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Atomically reserve the key if absent or expired, else say what holds it."""
        ...

    async def complete(
        self,
        subject: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        ttl_seconds: float,
    ) -> bool:
        """Store the response under the reservation `token`; False if it was lost meanwhile."""
        ...

    async def release(self, subject: str, key: str, token: str) -> None:
        """Drop the reservation `token` (if still held) so a retry runs the request again."""
        ...

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None when absent or expired."""
        ...
