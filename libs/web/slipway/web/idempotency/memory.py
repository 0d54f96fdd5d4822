"""`InMemoryIdempotencyStore`: the embedded default, for one process."""

import time
import uuid
from dataclasses import dataclass

from slipway.web.idempotency.store import (
    Claim,
    Clock,
    Completed,
    Entry,
    InProgress,
    Reserved,
    StoredResponse,
)


@dataclass(slots=True)
class _Row:
    fingerprint: str
    token: str
    expires_at: float
    response: StoredResponse | None = None


class InMemoryIdempotencyStore:
    """Entries in a dict; atomic because no method awaits between its read and its write."""

    def __init__(self, *, clock: Clock = time.time, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._rows: dict[tuple[str, str], _Row] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def _live(self, subject: str, key: str) -> _Row | None:
        row = self._rows.get((subject, key))
        if row is None or row.expires_at <= self._clock():
            return None
        return row

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Reserve the key if absent or expired, else the entry holding it."""
        row = self._live(subject, key)
        if row is not None:
            return _entry(row)
        if len(self._rows) >= self._max_entries:
            self.purge_expired()
        token = uuid.uuid4().hex
        self._rows[(subject, key)] = _Row(fingerprint, token, self._clock() + lease_seconds)
        return Reserved(token)

    async def complete(
        self,
        subject: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        ttl_seconds: float,
    ) -> bool:
        """Store the response if `token` still holds the reservation."""
        row = self._live(subject, key)
        if row is None or row.token != token or row.response is not None:
            return False
        row.response = response
        row.expires_at = self._clock() + ttl_seconds
        return True

    async def release(self, subject: str, key: str, token: str) -> None:
        """Forget the reservation if `token` still holds it."""
        row = self._rows.get((subject, key))
        if row is not None and row.token == token and row.response is None:
            del self._rows[(subject, key)]

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None."""
        row = self._live(subject, key)
        return None if row is None else _entry(row)

    def purge_expired(self) -> int:
        """Delete every expired entry; how many there were."""
        now = self._clock()
        expired = [name for name, row in self._rows.items() if row.expires_at <= now]
        for name in expired:
            del self._rows[name]
        return len(expired)


def _entry(row: _Row) -> Entry:
    if row.response is None:
        return InProgress(row.fingerprint)
    return Completed(row.fingerprint, row.response)
