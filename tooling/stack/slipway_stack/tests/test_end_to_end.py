"""The stack end to end: real processes, the real PostgreSQL and Redis.

Each test runs the Procfile's three processes (authorization server, contexts, search) the
way `./pants run tooling/stack -- --postgres ... --redis ...` does (tests/harness.py), on free
ports, with two throwaway databases and a Redis key prefix of its own.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db.settings import async_url
from slipway_stack.plan import database_url
from slipway_stack.tests.harness import RunningStack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAMESPACE = "e2e"
SEARCHABLE_WITHIN_SECONDS = 1.0


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RunningStack]:
    """The three processes on PostgreSQL + Redis, ready; everything of theirs removed after."""
    async with running_stack(tmp_path) as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    """The authorization header for `token`."""
    return {"authorization": f"Bearer {token}"}


async def put_context(
    client: httpx.AsyncClient, stack: RunningStack, token: str, name: str, content: str
) -> httpx.Response:
    """Create or replace a document context in contexts."""
    return await client.put(
        f"{stack.config.contexts_url}/v1/contexts/{NAMESPACE}/{name}",
        headers=bearer(token),
        json={"kind": "document", "body": {"content": content}},
    )


async def search(
    client: httpx.AsyncClient, stack: RunningStack, token: str, query: str
) -> httpx.Response:
    """`GET /v1/search?q=...&namespace=e2e` on search."""
    return await client.get(
        f"{stack.config.search_url}/v1/search",
        params={"q": query, "namespace": NAMESPACE},
        headers=bearer(token),
    )


async def wait_searchable(
    client: httpx.AsyncClient,
    stack: RunningStack,
    token: str,
    word: str,
    name: str,
    timeout_seconds: float,
) -> float:
    """Seconds until searching `word` finds context `name`; fails after `timeout_seconds`."""
    started = time.monotonic()
    while True:
        response = await search(client, stack, token, word)
        assert response.status_code == 200, response.text
        if any(hit["name"] == name for hit in response.json()["items"]):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_seconds:
            raise AssertionError(f"{name} not searchable in {timeout_seconds} s\n{stack.logs()}")
        await asyncio.sleep(0.02)


async def write_searchable(
    client: httpx.AsyncClient,
    stack: RunningStack,
    token: str,
    name: str,
    content: str,
    word: str,
    timeout_seconds: float = 15,
) -> float:
    """Put document `name` (created or replaced), then the seconds until `word` finds it."""
    response = await put_context(client, stack, token, name, content)
    assert response.status_code in (200, 201), response.text
    return await wait_searchable(client, stack, token, word, name, timeout_seconds)


async def index_rows(stack: RunningStack) -> tuple[list[tuple[str, int, bool]], int]:
    """search's index as stored: (name, version, deleted) per context, and the number of
    change events it recorded as applied."""
    engine = create_async_engine(
        async_url(database_url(stack.config, "search")), poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.text(
                        "SELECT name, version, deleted FROM search_contexts "
                        "WHERE namespace = :namespace ORDER BY name"
                    ),
                    {"namespace": NAMESPACE},
                )
            ).all()
            applied = await connection.scalar(
                sa.text("SELECT count(*) FROM slipway_processed_events")
            )
    finally:
        await engine.dispose()
    return [(str(r[0]), int(r[1]), bool(r[2])) for r in rows], int(applied or 0)


async def metric_samples(client: httpx.AsyncClient, base_url: str, metric: str) -> dict[str, float]:
    """Every sample of `metric` on a service's /metrics, keyed by its sorted labels."""
    response = await client.get(f"{base_url}/metrics")
    assert response.status_code == 200, response.text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == metric:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[labels] = sample.value
    return samples


async def test_a_write_in_contexts_is_searchable_within_a_second(stack: RunningStack) -> None:
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        # The first change also opens search's connections and its read of the stream.
        await write_searchable(client, stack, token, "warm-up", "warmup kettle", "kettle")
        lags = []
        for number in range(3):
            word = f"zebra{uuid.uuid4().hex[:8]}"
            lags.append(
                await write_searchable(
                    client,
                    stack,
                    token,
                    f"note-{number}",
                    f"about {word}",
                    word,
                    timeout_seconds=10,
                )
            )
    assert max(lags) < SEARCHABLE_WITHIN_SECONDS, (lags, stack.logs())


async def test_search_killed_then_restarted_indexes_each_write_exactly_once(
    stack: RunningStack,
) -> None:
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        await write_searchable(client, stack, token, "before", "before the crash", "crash")

        stack.kill("search")
        limit = asyncio.Semaphore(8)

        async def write(number: int) -> int:
            async with limit:
                reply = await put_context(
                    client,
                    stack,
                    token,
                    f"doc-{number:03d}",
                    f"written while search was down {number}",
                )
                return reply.status_code

        statuses = await asyncio.gather(*(write(n) for n in range(100)))
        assert set(statuses) <= {200, 201}, statuses

        stack.start("search")
        await stack.wait_ready("search")
        deadline = time.monotonic() + 30
        while True:
            rows, applied = await index_rows(stack)
            if len(rows) >= 101 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        # A little longer: a duplicate delivery would show up now, not never.
        await asyncio.sleep(1.0)
        rows, applied = await index_rows(stack)
        found = await search(client, stack, token, "written")
        events = await metric_samples(
            client, stack.config.search_url, "search_indexing_events_total"
        )
    names = [name for name, _, _ in rows]
    assert names == ["before", *(f"doc-{n:03d}" for n in range(100))], stack.logs()
    assert all(version == 1 and not deleted for _, version, deleted in rows), rows
    # Every change event applied once: 101 creations, no event recorded twice (the table's key
    # is the event id) and none lost.
    assert applied == 101, (applied, stack.logs())
    # The restarted process applied the 100 changes it missed, once each ("before" may come
    # again if its acknowledgement was lost with the process: a counted duplicate, no more).
    assert events.get("outcome=applied") == 100, events
    assert events.get("outcome=duplicate", 0) <= 1, events
    assert found.status_code == 200, found.text


async def test_with_contexts_down_search_serves_its_index_and_says_why_not_ready(
    stack: RunningStack,
) -> None:
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        await write_searchable(client, stack, token, "kept", "the lighthouse keeper", "lighthouse")

        stack.kill("contexts")
        found = await search(client, stack, token, "lighthouse")
        assert found.status_code == 200, found.text
        assert [hit["name"] for hit in found.json()["items"]] == ["kept"]

        # contexts is a non-critical check of search's: /ready stays 200 (search stays in
        # rotation, serving its index) but says "degraded" and names contexts, once the
        # check's grace period (`unready_after_seconds`, 10 s) has passed.
        deadline = time.monotonic() + 20
        while True:
            ready = await client.get(f"{stack.config.search_url}/ready")
            degraded = ready.status_code == 200 and ready.json()["status"] == "degraded"
            if degraded or ready.status_code != 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert ready.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = ready.json()
        assert body["status"] == "degraded", body
        assert body["degraded"] == ["contexts"], body
        checks: dict[str, Any] = body["checks"]
        failing = {name for name, result in checks.items() if result["status"] != "ok"}
        assert failing == {"contexts"}, checks
        assert checks["contexts"]["critical"] is False
        assert checks["contexts"]["detail"], checks
        # ...and search still answers searches from its index meanwhile.
        found = await search(client, stack, token, "lighthouse")
        assert found.status_code == 200, found.text
        assert [hit["name"] for hit in found.json()["items"]] == ["kept"]

        # contexts back: search indexes new changes again and /ready says "ok".
        stack.start("contexts")
        await stack.wait_ready("contexts")
        await write_searchable(client, stack, token, "after", "the lighthouse returns", "returns")
        deadline = time.monotonic() + 15
        while True:
            ready = await client.get(f"{stack.config.search_url}/ready")
            if ready.json().get("status") == "ok" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok", (ready.json(), stack.logs())


async def test_with_the_authorization_server_down_cached_tokens_and_keys_keep_working(
    stack: RunningStack,
) -> None:
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        await write_searchable(client, stack, token, "first", "granite first", "granite")

        stack.kill("authz")
        # contexts verifies the user's token with the keys it holds...
        response = await put_context(client, stack, token, "second", "basalt second")
        assert response.status_code in (200, 201), (response.text, stack.logs())
        # ...and search fetches the change from contexts with its cached service token.
        await wait_searchable(client, stack, token, "basalt", "second", timeout_seconds=10)
        rejected = await metric_samples(
            client, stack.config.contexts_url, "auth_token_rejections_total"
        )
    assert sum(rejected.values()) == 0, (rejected, stack.logs())


async def test_rotating_the_signing_key_while_both_run_causes_no_401(stack: RunningStack) -> None:
    before = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        await write_searchable(client, stack, before, "rotation-0", "quartz zero", "quartz")

        statuses: list[int] = []
        # One rotation brings in the key the authorization server published ahead of time, so
        # both services already hold it. A second rotation within one JWKS refresh interval is
        # the documented limit (libs/auth/README.md): its key is fetched on the unknown kid at
        # most once per jwks_min_refresh_interval_seconds.
        for round_number in (1,):
            await stack.rotate()
            after = await stack.user_token()
            for token in (before, after):
                reply = await put_context(
                    client, stack, token, f"rotation-{round_number}", f"quartz {round_number}"
                )
                statuses.append(reply.status_code)
                statuses.append((await search(client, stack, token, "quartz")).status_code)
            await wait_searchable(
                client, stack, after, "quartz", f"rotation-{round_number}", timeout_seconds=10
            )
        contexts_rejections = await metric_samples(
            client, stack.config.contexts_url, "auth_token_rejections_total"
        )
        search_rejections = await metric_samples(
            client, stack.config.search_url, "auth_token_rejections_total"
        )
    assert 401 not in statuses, (statuses, stack.logs())
    assert set(statuses) <= {200, 201}, statuses
    # Nobody's token was refused: neither users' calls nor search's own calls to contexts.
    assert sum(contexts_rejections.values()) == 0, contexts_rejections
    assert sum(search_rejections.values()) == 0, search_rejections
