"""IdempotencyMiddleware: run once per (subject, key), replay byte for byte, refuse misuse."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.web.idempotency import (
    IN_PROGRESS_TYPE,
    KEY_INVALID_TYPE,
    KEY_REUSED_TYPE,
    IdempotencyMiddleware,
    IdempotencySettings,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    InProgress,
    principal_or_anonymous,
)

SUBJECT = {"x-subject": "alice"}


class FakeAuth:
    """Puts a principal named by `X-Subject` in the scope, as slipway.auth's middleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"x-subject":
                scope.setdefault("state", {})["principal"] = SimpleNamespace(subject=value.decode())
        await self.app(scope, receive, send)


def _service(calls: Counter[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/things")
    async def create(request: Request, delay: float = 0.0) -> Response:
        calls["things"] += 1
        await asyncio.sleep(delay)
        body = b'{"id":"' + uuid.uuid4().hex.encode() + b'","echo":' + (await request.body()) + b"}"
        headers = {"location": "/things/1", "etag": '"v1"', "x-not-stored": "1"}
        return Response(body, 201, headers=headers, media_type="application/json")

    @app.get("/things")
    async def read() -> dict[str, int]:
        calls["read"] += 1
        return {"calls": calls["read"]}

    @app.post("/status/{code}")
    async def status(code: int) -> Response:
        calls[f"status-{code}"] += 1
        return Response(uuid.uuid4().hex, code)

    @app.post("/boom")
    async def boom() -> None:
        calls["boom"] += 1
        raise RuntimeError("internal detail")

    @app.post("/stream")
    async def stream(size: int) -> StreamingResponse:
        calls["stream"] += 1
        tag = uuid.uuid4().hex.encode()

        def chunks() -> Iterator[bytes]:
            yield tag
            for _ in range(size // 1000):
                yield b"x" * 1000

        return StreamingResponse(chunks(), media_type="text/plain")

    return app


@pytest.fixture
def calls() -> Counter[str]:
    return Counter()


@pytest.fixture
def settings() -> IdempotencySettings:
    return IdempotencySettings(wait_seconds=2.0, max_body_bytes=10_000)


@asynccontextmanager
async def _client(
    calls: Counter[str],
    settings: IdempotencySettings | None = None,
    store: IdempotencyStore | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service behind FakeAuth and the middleware (one instance of it)."""
    if store is None:  # not `or`: an empty store has len() 0
        store = InMemoryIdempotencyStore()
    app = FakeAuth(IdempotencyMiddleware(_service(calls), store=store, settings=settings))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(
    calls: Counter[str], settings: IdempotencySettings
) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(calls, settings) as client:
        yield client


def _key(**headers: str) -> dict[str, str]:
    return {"idempotency-key": uuid.uuid4().hex, **SUBJECT, **headers}


async def test_replayed_key_returns_the_original_response_byte_for_byte(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    first = await client.post("/things", content=b'{"n":1}', headers=headers)
    second = await client.post("/things", content=b'{"n":1}', headers=headers)

    assert calls["things"] == 1
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["location"] == "/things/1"
    assert second.headers["etag"] == '"v1"'
    assert second.headers["content-type"] == "application/json"
    assert "x-not-stored" not in second.headers


async def test_requests_without_a_key_or_safe_methods_always_run(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    await client.post("/things", content=b"1", headers=SUBJECT)
    await client.post("/things", content=b"1", headers=SUBJECT)
    headers = _key()
    await client.get("/things", headers=headers)
    second = await client.get("/things", headers=headers)
    assert calls["things"] == 2
    assert second.json() == {"calls": 2}


async def test_key_reused_for_another_request_is_refused_with_422(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    await client.post("/things", content=b"1", headers=headers)
    other_body = await client.post("/things", content=b"2", headers=headers)
    other_query = await client.post("/things?delay=0", content=b"1", headers=headers)
    other_path = await client.post("/status/201", content=b"1", headers=headers)
    other_method = await client.put("/things", content=b"1", headers=headers)

    assert calls["things"] == 1
    assert calls["status-201"] == 0
    for response in (other_body, other_query, other_path, other_method):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == KEY_REUSED_TYPE


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "a/b"])
async def test_malformed_key_is_refused_with_400_before_running(
    client: httpx.AsyncClient, calls: Counter[str], key: str
) -> None:
    response = await client.post(
        "/things", content=b"1", headers={**SUBJECT, "idempotency-key": key}
    )
    assert response.status_code == 400
    assert response.json()["type"] == KEY_INVALID_TYPE
    assert calls["things"] == 0


async def test_keys_belong_to_their_subject(client: httpx.AsyncClient, calls: Counter[str]) -> None:
    headers = _key()
    alice = await client.post("/things", content=b"1", headers=headers)
    bob = await client.post("/things", content=b"1", headers={**headers, "x-subject": "bob"})
    assert calls["things"] == 2
    assert alice.content != bob.content
    assert "idempotent-replayed" not in bob.headers


async def test_callers_without_a_principal_are_not_guarded_by_default(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = {"idempotency-key": "anon"}
    await client.post("/things", content=b"1", headers=headers)
    await client.post("/things", content=b"1", headers=headers)
    assert calls["things"] == 2


async def test_anonymous_subject_function_guards_callers_without_a_principal(
    calls: Counter[str],
) -> None:
    app = IdempotencyMiddleware(
        _service(calls), store=InMemoryIdempotencyStore(), subject=principal_or_anonymous
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.post("/things", content=b"1", headers={"idempotency-key": "anon"})
        second = await client.post("/things", content=b"1", headers={"idempotency-key": "anon"})
    assert calls["things"] == 1
    assert second.content == first.content


async def test_concurrent_duplicates_wait_and_get_the_one_response(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    responses = await asyncio.gather(
        *(client.post("/things?delay=0.2", content=b"1", headers=headers) for _ in range(20))
    )
    assert calls["things"] == 1
    assert {(r.status_code, r.content) for r in responses} == {(201, responses[0].content)}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19


async def test_duplicate_still_in_progress_after_the_wait_gets_409_with_retry_after(
    calls: Counter[str],
) -> None:
    settings = IdempotencySettings(wait_seconds=0.1, retry_after_seconds=3)
    async with _client(calls, settings) as client:
        headers = _key()
        first = asyncio.create_task(client.post("/things?delay=0.5", content=b"1", headers=headers))
        await asyncio.sleep(0.05)
        duplicate = await client.post("/things?delay=0.5", content=b"1", headers=headers)
        assert (await first).status_code == 201
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    assert duplicate.headers["retry-after"] == "3"
    assert duplicate.json()["type"] == IN_PROGRESS_TYPE
    assert calls["things"] == 1


async def test_the_key_is_reserved_before_the_handler_runs(calls: Counter[str]) -> None:
    store = InMemoryIdempotencyStore()
    seen: list[object] = []
    service = _service(calls)

    @service.post("/peek")
    async def peek() -> Response:
        seen.append(await store.get("alice", "peeked"))
        return Response(b"", 204)

    app = FakeAuth(IdempotencyMiddleware(service, store=store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.post("/peek", headers={**SUBJECT, "idempotency-key": "peeked"})
    assert len(seen) == 1
    assert isinstance(seen[0], InProgress)
    assert await store.get("alice", "peeked") is not None  # and completed afterwards


async def test_another_request_under_a_key_in_progress_is_refused_at_once(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    first = asyncio.create_task(client.post("/things?delay=0.5", content=b"1", headers=headers))
    await asyncio.sleep(0.05)
    other = await client.post("/things?delay=0.5", content=b"2", headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == KEY_REUSED_TYPE
    assert not first.done()  # refused without waiting for the first
    assert (await first).status_code == 201
    assert calls["things"] == 1


async def test_instances_sharing_a_store_run_once_and_replay_the_same_bytes(
    calls: Counter[str], settings: IdempotencySettings
) -> None:
    store = InMemoryIdempotencyStore()
    async with (
        _client(calls, settings, store) as one,
        _client(calls, settings, store) as two,
    ):
        headers = _key()
        responses = await asyncio.gather(
            *(
                (one if n % 2 else two).post("/things?delay=0.2", content=b"1", headers=headers)
                for n in range(20)
            )
        )
    assert calls["things"] == 1
    stored = ("content-type", "location", "etag", "content-length")
    shapes = {
        (r.status_code, tuple(r.headers.get(h) for h in stored), r.content) for r in responses
    }
    assert len(shapes) == 1


async def test_invalid_utf8_and_lone_surrogate_bodies_are_guarded_like_any_other(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    body = b"\xed\xa0\x80\xff\xfe"  # a UTF-8 encoded lone surrogate, then bytes UTF-8 never has
    first = await client.post("/status/200", content=body, headers=headers)
    second = await client.post("/status/200", content=body, headers=headers)
    other = await client.post("/status/200", content=body + b"\x00", headers=headers)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert other.status_code == 422
    assert calls["status-200"] == 1


@pytest.mark.parametrize("code", [409, 429, 500, 503])
async def test_unstored_statuses_release_the_key_so_a_retry_runs_again(
    client: httpx.AsyncClient, calls: Counter[str], code: int
) -> None:
    headers = _key()
    first = await client.post(f"/status/{code}", headers=headers)
    second = await client.post(f"/status/{code}", headers=headers)
    assert first.status_code == second.status_code == code
    assert calls[f"status-{code}"] == 2
    assert first.content != second.content


@pytest.mark.parametrize("code", [200, 204, 400, 404, 422])
async def test_success_and_client_errors_are_stored(
    client: httpx.AsyncClient, calls: Counter[str], code: int
) -> None:
    headers = _key()
    first = await client.post(f"/status/{code}", headers=headers)
    second = await client.post(f"/status/{code}", headers=headers)
    assert calls[f"status-{code}"] == 1
    assert (second.status_code, second.content) == (first.status_code, first.content)


async def test_handler_exception_releases_the_key(
    client: httpx.AsyncClient, calls: Counter[str]
) -> None:
    headers = _key()
    first = await client.post("/boom", headers=headers)
    second = await client.post("/boom", headers=headers)
    assert first.status_code == second.status_code == 500
    assert calls["boom"] == 2


@pytest.mark.parametrize(("size", "runs"), [(5000, 1), (50000, 2)])
async def test_streamed_response_is_stored_whole_within_the_limit_and_not_above(
    client: httpx.AsyncClient, calls: Counter[str], size: int, runs: int
) -> None:
    headers = _key()
    first = await client.post(f"/stream?size={size}", headers=headers)
    second = await client.post(f"/stream?size={size}", headers=headers)
    assert calls["stream"] == runs
    assert len(first.content) == len(second.content) == size + 32
    assert (second.content == first.content) == (runs == 1)


async def test_disabled_settings_let_every_request_run(calls: Counter[str]) -> None:
    async with _client(calls, IdempotencySettings(enabled=False)) as client:
        headers = _key()
        await client.post("/things", content=b"1", headers=headers)
        await client.post("/things", content=b"1", headers=headers)
    assert calls["things"] == 2
