"""The concurrent-write scenarios over a real server (uvicorn, the whole service), shared by
the SQLite test (test_put_concurrency.py) and the PostgreSQL one
(tests/integration/test_put_concurrency_on_postgres.py).

A PUT or PATCH without `If-Match` is a replace or a merge on whatever is current: of many at
once every one succeeds, each its own version (1..N contiguous), with exactly one audit entry
and one outbox event per version; lost version races are retried inside the service. Only
`If-Match` makes a write conditional (one winner, the rest 412), `If-None-Match: *` is
create-only (one 201, the rest 412).
"""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE, CAROL, Headers, document
from contexts.tests.api.test_events_acl import Live, serving
from slipway.config import Environment
from slipway.db import DatabaseSettings

WRITERS = 32
NAMESPACE = "team-a"
TIMEOUT = 60.0

# One request of a burst: method, context name, headers, httpx keyword arguments.
Request = tuple[str, str, Headers, dict[str, Any]]


@dataclass
class Server:
    """The service under uvicorn and the database URL it writes to."""

    live: Live
    database_url: str

    def url(self, name: str, suffix: str = "") -> str:
        return f"{self.live.url}/v1/contexts/{NAMESPACE}/{name}{suffix}"

    async def send(self, method: str, name: str, headers: Headers, **kwargs: Any) -> httpx.Response:
        return await self.live.http.request(
            method, self.url(name), headers=headers, timeout=TIMEOUT, **kwargs
        )

    async def responses(self, *requests: Request) -> list[httpx.Response]:
        """Send every request at once; the responses, in order. No 5xx, ever."""
        responses = await asyncio.gather(
            *(
                self.send(method, name, headers, **kwargs)
                for method, name, headers, kwargs in requests
            )
        )
        for response in responses:
            assert response.status_code < 500, response.text
        return responses

    async def burst(self, *requests: Request) -> list[int]:
        """Send every request at once; their statuses, in order."""
        return [response.status_code for response in await self.responses(*requests)]

    async def versions(self, name: str) -> list[dict[str, Any]]:
        response = await self.live.http.get(
            self.url(name, "/versions"), headers=ALICE, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def audited_versions(self, name: str) -> list[int]:
        response = await self.live.http.get(
            self.url(name, "/audit"), headers=ALICE, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        return sorted(entry["version"] for entry in response.json()["items"])

    async def outbox_versions(self, name: str) -> list[int]:
        """The versions of `name` the committed outbox holds an event for (published or not)."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    sa.text("SELECT payload FROM slipway_outbox WHERE key = :name"),
                    {"name": name},
                )
                payloads = [row.payload for row in rows]
        finally:
            await engine.dispose()
        return sorted(_payload(payload)["version"] for payload in payloads)


def _payload(payload: Any) -> dict[str, Any]:
    # JSON text on SQLite (a plain-text query), decoded JSONB on PostgreSQL.
    loaded = json.loads(payload) if isinstance(payload, str) else payload
    assert isinstance(loaded, dict)
    return loaded


def put(name: str, body: dict[str, Any], headers: Headers) -> Request:
    return ("PUT", name, headers, {"json": body})


def patch(name: str, patch_body: dict[str, Any], headers: Headers) -> Request:
    merge = {**headers, "Content-Type": "application/merge-patch+json"}
    return ("PATCH", name, merge, {"json": patch_body})


# The scenarios, shared with the PostgreSQL test.


async def plain_puts_all_succeed(server: Server) -> None:
    """32 PUTs without If-Match at once: all 200, versions 1..33, every body stored once.

    Half of them carry an Idempotency-Key: a retried attempt inside the service stores no
    second response, and the replay is the first response byte for byte.
    """
    name = "plain-puts"
    assert (await server.burst(put(name, document("v1"), ALICE)))[0] == 201

    def headers(n: int) -> Headers:
        return {**ALICE, "Idempotency-Key": f"plain-{n}"} if n % 2 == 0 else ALICE

    responses = await server.responses(
        *(put(name, document(f"writer {n}"), headers(n)) for n in range(WRITERS))
    )
    statuses = [response.status_code for response in responses]
    assert statuses == [200] * WRITERS, Counter(statuses)

    versions = await server.versions(name)
    assert [item["version"] for item in versions] == list(range(1, WRITERS + 2))
    stored = sorted(item["body"]["content"] for item in versions[1:])
    assert stored == sorted(f"writer {n}" for n in range(WRITERS))
    assert sorted(response.json()["version"] for response in responses) == list(
        range(2, WRITERS + 2)
    )
    everything = list(range(1, WRITERS + 2))
    assert await server.audited_versions(name) == everything
    assert await server.outbox_versions(name) == everything

    for n in range(0, WRITERS, 2):
        replay = await server.send("PUT", name, headers(n), json=document(f"writer {n}"))
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == responses[n].content
    assert len(await server.versions(name)) == WRITERS + 1


async def plain_patches_all_apply(server: Server) -> None:
    """32 PATCHes without If-Match at once, each adding its own label: all 200, none lost."""
    name = "plain-patches"
    assert (await server.burst(put(name, document("v1"), ALICE)))[0] == 201

    statuses = await server.burst(
        *(patch(name, {"labels": {f"writer-{n}": "yes"}}, CAROL) for n in range(WRITERS))
    )
    assert statuses == [200] * WRITERS, Counter(statuses)

    versions = await server.versions(name)
    assert [item["version"] for item in versions] == list(range(1, WRITERS + 2))
    # Each patch was merged onto the latest version: the last one carries every label.
    assert versions[-1]["labels"] == {f"writer-{n}": "yes" for n in range(WRITERS)}
    everything = list(range(1, WRITERS + 2))
    assert await server.audited_versions(name) == everything
    assert await server.outbox_versions(name) == everything


async def plain_creates_all_succeed(server: Server) -> None:
    """32 PUTs at once to a name never used: one 201, the rest 200, versions 1..32."""
    name = "plain-creates"
    statuses = await server.burst(
        *(put(name, document(f"writer {n}"), ALICE) for n in range(WRITERS))
    )
    assert sorted(statuses) == [200] * (WRITERS - 1) + [201], Counter(statuses)
    versions = await server.versions(name)
    assert [item["version"] for item in versions] == list(range(1, WRITERS + 1))
    assert await server.audited_versions(name) == list(range(1, WRITERS + 1))


async def if_match_puts_have_one_winner(server: Server) -> None:
    """32 PUTs with the same If-Match at once: exactly one 200, the rest 412, versions 1..2."""
    name = "if-match-puts"
    created = await server.send("PUT", name, ALICE, json=document("v1"))
    etag = created.headers["etag"]

    if_match = {**ALICE, "If-Match": etag}
    statuses = await server.burst(
        *(put(name, document(f"writer {n}"), if_match) for n in range(WRITERS))
    )
    assert sorted(statuses) == [200] + [412] * (WRITERS - 1), Counter(statuses)
    assert [item["version"] for item in await server.versions(name)] == [1, 2]
    assert await server.audited_versions(name) == [1, 2]
    assert await server.outbox_versions(name) == [1, 2]


async def create_only_puts_have_one_winner(server: Server) -> None:
    """32 PUTs with If-None-Match: * at once: exactly one 201, the rest 412, one version."""
    name = "create-only"
    create_only = {**ALICE, "If-None-Match": "*"}
    statuses = await server.burst(
        *(put(name, document(f"writer {n}"), create_only) for n in range(WRITERS))
    )
    assert sorted(statuses) == [201] + [412] * (WRITERS - 1), Counter(statuses)
    assert [item["version"] for item in await server.versions(name)] == [1]
    assert await server.outbox_versions(name) == [1]


async def plain_deletes_have_one_winner(server: Server) -> None:
    """Concurrent DELETEs: one tombstone (200), the others find nothing left (404)."""
    name = "deletes"
    await server.send("PUT", name, ALICE, json=document("v1"))
    statuses = await server.burst(*(("DELETE", name, ALICE, {}) for _ in range(8)))
    assert sorted(statuses) == [200] + [404] * 7, Counter(statuses)
    assert [item["version"] for item in await server.versions(name)] == [1, 2]


SCENARIOS = [
    plain_puts_all_succeed,
    plain_patches_all_apply,
    plain_creates_all_succeed,
    if_match_puts_have_one_winner,
    create_only_puts_have_one_winner,
    plain_deletes_have_one_winner,
]


@asynccontextmanager
async def served(database_url: str) -> AsyncIterator[Server]:
    """The whole service (without Redis) on `database_url`, under uvicorn."""
    settings = Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(database_url)),
        redis=None,
    )
    async with serving(settings) as live:
        yield Server(live, database_url)
