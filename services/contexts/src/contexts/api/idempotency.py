"""`Idempotency-Key` on mutating requests: the first response is replayed, byte for byte.

The response a request first got under a key (status, the headers in `STORED_HEADERS`, the
body bytes) is kept through the `IdempotencyStore` port, per (subject, key), with the domain's
hash of the request, for `idempotency_ttl_seconds`. Repeating the request within that time
returns the stored response with `Idempotent-Replayed: true`, without running it again; the
same key with a different request is refused with 422 (`idempotency_key_reused`).

Stored: every response the operation itself gave, success or domain error, except 409
(`Conflict`: a race lost to a concurrent change, worth retrying under the same key) and
server errors. Requests refused before the operation runs (401, 403 insufficient scope, 422
request validation) store nothing.

Concurrency: requests under one (subject, key) run one at a time within a process (an
asyncio lock per key), so concurrent replays to one process produce exactly one effect and
identical responses. Across processes, two first-time requests racing under one key may both
run; the domain keeps that harmless for PUT and PATCH (re-applying the same content creates
no new version) and a second DELETE answers 404, but the two responses may differ (e.g.
201 and 200) and the later `put` wins. The `IdempotencyStore` port has no reservation
operation; a DB-level reservation row would be the way to make the guarantee cross-process.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from fastapi import Request, Response
from pydantic import JsonValue

from contexts.api.errors import problem_of
from contexts.domain.errors import DomainError
from contexts.domain.hashing import request_hash
from contexts.domain.idempotency import StoredResponse, response_to_replay
from contexts.domain.model import Actor
from contexts.domain.ports import Clock, IdempotencyStore
from slipway.web import ProblemError, problem_response

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,255}$"
STORED_HEADERS: Final = ("content-type", "etag", "location")
NOT_STORED_STATUSES: Final = frozenset({409, 429})

Operation = Callable[[], Awaitable[Response]]


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _json_or_text(raw: bytes) -> JsonValue:
    if not raw:
        return None
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")
    return value


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body.encode(),
        status_code=stored.status,
        headers={**stored.headers, REPLAYED_HEADER: "true"},
    )


class IdempotencyGuard:
    """Runs mutating operations at most once per (subject, Idempotency-Key) and TTL."""

    def __init__(self, store: IdempotencyStore, clock: Clock, ttl_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._slots: dict[tuple[str, str], _Slot] = {}

    @asynccontextmanager
    async def _serialized(self, subject: str, key: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault((subject, key), _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[(subject, key)]

    async def run(
        self, request: Request, actor: Actor, key: str | None, operation: Operation
    ) -> Response:
        """The operation's response, or the one stored for this key and request."""
        if key is None:
            return await operation()
        fingerprint = request_hash(
            request.method,
            request.url.path,
            _json_or_text(await request.body()),
            dict(request.headers),
        )
        async with self._serialized(actor.subject, key):
            stored = await self._store.get(key, actor.subject)
            try:
                replay = response_to_replay(stored, fingerprint, self._clock.now())
            except DomainError as error:
                raise problem_of(error) from error
            if replay is not None:
                return _replay(replay)
            response = await self._respond(request, operation)
            if response.status_code < 500 and response.status_code not in NOT_STORED_STATUSES:
                await self._store.put(key, actor.subject, self._stored(fingerprint, response))
            return response

    @staticmethod
    async def _respond(request: Request, operation: Operation) -> Response:
        # Domain errors are rendered here, not by the exception handlers, so they can be kept.
        try:
            return await operation()
        except DomainError as error:
            problem = problem_of(error)
        except ProblemError as error:
            problem = error
        return problem_response(
            request.scope,
            problem.status,
            detail=problem.detail,
            title=problem.title,
            type=problem.type,
            headers=problem.headers,
            extensions=problem.extensions,
        )

    def _stored(self, fingerprint: str, response: Response) -> StoredResponse:
        headers = {
            name: response.headers[name] for name in STORED_HEADERS if name in response.headers
        }
        return StoredResponse(
            request_hash=fingerprint,
            status=response.status_code,
            headers=headers,
            body=bytes(response.body).decode(),
            expires_at=self._clock.now() + self._ttl,
        )
