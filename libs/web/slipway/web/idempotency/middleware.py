"""`IdempotencyMiddleware`: an unsafe request under an `Idempotency-Key` runs at most once.

The rules, and why, are in libs/web/README.md ("Idempotency").
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.idempotency.fingerprint import header_values, is_valid_key, request_fingerprint
from slipway.web.idempotency.recording import ResponseRecorder
from slipway.web.idempotency.settings import IdempotencySettings
from slipway.web.idempotency.store import (
    Claim,
    Completed,
    IdempotencyStore,
    InProgress,
    Reserved,
    StoredResponse,
)
from slipway.web.problems import problem_response

logger = logging.getLogger("slipway.web.idempotency")

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEY_INVALID_TYPE: Final = "urn:slipway:problem:idempotency-key-invalid"
KEY_REUSED_TYPE: Final = "urn:slipway:problem:idempotency-key-reused"
IN_PROGRESS_TYPE: Final = "urn:slipway:problem:idempotency-request-in-progress"

SubjectFunc = Callable[[Scope], str | None]


def principal_subject(scope: Scope) -> str | None:
    """The subject of `scope["state"]["principal"]`, or None (no idempotency) when absent."""
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        return None
    return str(getattr(principal, "subject", principal))


def principal_or_anonymous(scope: Scope) -> str:
    """The principal's subject, or `anonymous`: every unauthenticated caller shares keys."""
    return principal_subject(scope) or "anonymous"


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying_receive(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the already read body, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored.headers]
    headers.append((b"content-length", str(len(stored.body)).encode("latin-1")))
    headers.append((REPLAYED_HEADER.lower().encode("latin-1"), b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})


class IdempotencyMiddleware:
    """Reserves (subject, key) before the app runs; duplicates wait, then get the replay."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore,
        settings: IdempotencySettings | None = None,
        subject: SubjectFunc = principal_subject,
    ) -> None:
        self.app = app
        self.store = store
        self.settings = settings or IdempotencySettings()
        self.subject = subject
        self._methods = frozenset(self.settings.methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run, replay or refuse the request; requests without a key pass straight through."""
        if not self._guards(scope):
            await self.app(scope, receive, send)
            return
        keys = header_values(scope, b"idempotency-key")
        if not keys:
            await self.app(scope, receive, send)
            return
        if len(keys) > 1 or not is_valid_key(keys[0]):
            detail = f"{IDEMPOTENCY_KEY_HEADER} must be one value of 1-255 of [A-Za-z0-9._:-]"
            response = problem_response(scope, 400, detail=detail, type=KEY_INVALID_TYPE)
            await response(scope, receive, send)
            return
        subject = self.subject(scope)
        if subject is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client is gone: nothing ran, nothing to answer
        fingerprint = request_fingerprint(scope, body, self.settings.fingerprint_headers)
        claim = await self._claim(subject, keys[0], fingerprint)
        if isinstance(claim, Reserved):
            await self._run(scope, _replaying_receive(body, receive), send, claim)
        elif claim.fingerprint != fingerprint:
            detail = "this idempotency key was used for a different request"
            response = problem_response(scope, 422, detail=detail, type=KEY_REUSED_TYPE)
            await response(scope, receive, send)
        elif isinstance(claim, Completed):
            await _replay(claim.response, send)
        else:
            await self._in_progress(scope, receive, send)

    def _guards(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http" and self.settings.enabled and scope["method"] in self._methods
        )

    async def _claim(self, subject: str, key: str, fingerprint: str) -> Claim:
        """Reserve, or wait (polling with backoff) while the same request is in progress."""
        lease = self.settings.lease_seconds
        deadline = time.monotonic() + self.settings.wait_seconds
        delay = self.settings.poll_initial_seconds
        claim: Claim = await self.store.reserve(subject, key, fingerprint, lease_seconds=lease)
        while isinstance(claim, InProgress) and claim.fingerprint == fingerprint:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Jitter spreads the polls of many waiters so they do not hit the store in step.
            await asyncio.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))  # noqa: S311
            delay = min(delay * 2, self.settings.poll_max_seconds)
            entry = await self.store.get(subject, key)
            if entry is None:  # released or its lease ran out: try to take it over
                claim = await self.store.reserve(subject, key, fingerprint, lease_seconds=lease)
            else:
                claim = entry
        return claim

    async def _run(self, scope: Scope, receive: Receive, send: Send, claim: Reserved) -> None:
        """Run the app under the reservation; store its response or release the key."""

        async def finished(response: StoredResponse | None) -> None:
            if response is not None and self.settings.stores(response.status):
                await self._complete(claim, response)
            else:
                await self._release(claim)

        recorder = ResponseRecorder(
            send,
            stored_headers=self.settings.stored_headers,
            max_body_bytes=self.settings.max_body_bytes,
            on_finished=finished,
        )
        try:
            await self.app(scope, receive, recorder)
        except BaseException:
            if not recorder.finished:
                await self._release(claim)
            raise
        if not recorder.finished:  # no complete response was sent
            await self._release(claim)

    async def _complete(self, claim: Reserved, response: StoredResponse) -> None:
        try:
            stored = await self.store.complete(
                claim, response, ttl_seconds=self.settings.ttl_seconds
            )
        except Exception:
            # The effect happened; failing the response now would only invite a second one.
            logger.exception("could not store the response under idempotency key %r", claim.key)
            return
        if not stored:
            logger.warning(
                "the reservation of idempotency key %r expired before completion", claim.key
            )

    async def _release(self, claim: Reserved) -> None:
        try:
            # Shielded: a cancelled request (client gone) must still free its key.
            await asyncio.shield(self.store.release(claim))
        except Exception:
            logger.exception(
                "could not release idempotency key %r; its lease will expire", claim.key
            )

    async def _in_progress(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            scope,
            409,
            title="Request in progress",
            detail="a request with this idempotency key is still in progress; retry later",
            type=IN_PROGRESS_TYPE,
            headers={"Retry-After": str(self.settings.retry_after_seconds)},
        )
        await response(scope, receive, send)
