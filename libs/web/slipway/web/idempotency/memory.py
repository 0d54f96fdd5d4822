"""`InMemoryIdempotencyStore`: the embedded default, for one process."""

import dataclasses
import time
import uuid

from slipway.web.idempotency.store import (
    Claim,
    Clock,
    Entry,
    Record,
    Reserved,
    StoredResponse,
    is_expired,
    live_entry,
    may_complete,
    may_release,
)


class InMemoryIdempotencyStore:
    """Records in a dict; atomic because no method awaits between its read and its write."""

    def __init__(self, *, clock: Clock = time.time, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._records: dict[tuple[str, str], Record] = {}

    def __len__(self) -> int:
        return len(self._records)

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Reserve the key if absent or expired, else the entry holding it."""
        now = self._clock()
        entry = live_entry(self._records.get((subject, key)), now)
        if entry is not None:
            return entry
        if len(self._records) >= self._max_entries:
            self.purge_expired()
        token = uuid.uuid4().hex
        self._records[(subject, key)] = Record(fingerprint, token, now + lease_seconds)
        return Reserved(subject, key, token)

    async def complete(
        self, reserved: Reserved, response: StoredResponse, *, ttl_seconds: float
    ) -> bool:
        """Store the response if the reservation is still held."""
        name = (reserved.subject, reserved.key)
        record = self._records.get(name)
        now = self._clock()
        if record is None or not may_complete(record, reserved.token, now):
            return False
        self._records[name] = dataclasses.replace(
            record, response=response, expires_at=now + ttl_seconds
        )
        return True

    async def release(self, reserved: Reserved) -> None:
        """Forget the reservation if it is still held."""
        name = (reserved.subject, reserved.key)
        if may_release(self._records.get(name), reserved.token):
            del self._records[name]

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None."""
        return live_entry(self._records.get((subject, key)), self._clock())

    def purge_expired(self) -> int:
        """Delete every expired record; how many there were."""
        now = self._clock()
        expired = [
            name for name, record in self._records.items() if is_expired(record.expires_at, now)
        ]
        for name in expired:
            del self._records[name]
        return len(expired)
