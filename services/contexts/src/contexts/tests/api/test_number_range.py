"""Numbers and ACL entries every backend stores and returns identically (issue 12, follow-up).

A stateful schemathesis run found:
- an integer beyond 64 bits in a body was stored, and every answer showing the context (its
  namespace's listing too) was then a 500: orjson cannot encode it;
- on PostgreSQL a float >= 2**63 did the same: jsonb keeps 1e20 as the numeric
  100000000000000000000, which came back as an int (so also a different content hash);
- NUL in an ACL entry was a 500 on PostgreSQL only, and `\\S` in the ACL entry pattern meant
  one thing to the OpenAPI document (ECMA regex: U+0085 is not a space) and another at run time.

Each case runs on SQLite and on a throwaway PostgreSQL database and must answer the same.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from contexts.adapters.sql.tables import context_versions
from contexts.main import service
from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE, BOB
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.db.testing import throwaway_postgres_database
from slipway.web.testing import app_client

NAMESPACE_URL = "/v1/contexts/team-a"
URL = f"{NAMESPACE_URL}/settings"
JSON = {**ALICE, "content-type": "application/json"}
HUGE = 999999999999999999999999999999
MAX_SAFE = 2**53 - 1


@dataclass(frozen=True)
class Service:
    """The whole service over HTTP, and the URL of its database (to write legacy rows)."""

    http: httpx.AsyncClient
    database_url: str


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def on(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    """The service on SQLite, then on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        settings = Settings(
            environment=Environment.TEST, database=DatabaseSettings(url=SecretStr(url))
        )
        async with app_client(service.build_app(settings)) as http:
            yield Service(http, url)
        return
    async with throwaway_postgres_database(postgres_admin_url()) as database:
        url = database.url.render_as_string(hide_password=False)
        settings = Settings(
            environment=Environment.TEST, database=DatabaseSettings(url=SecretStr(url))
        )
        async with app_client(service.build_app(settings)) as http:
            yield Service(http, url)


def assert_unprocessable(response: httpx.Response, pointer_part: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    text = response.text.lower()
    for internal in ("traceback", "sqlalchemy", "insert", "64-bit"):
        assert internal not in text
    assert pointer_part in response.text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"kind": "config", "body": {"x": 999999999999999999999999999999}}', "/x"),
        (b'{"kind": "config", "body": {"x": -999999999999999999999999999999}}', "/x"),
        (b'{"kind": "config", "body": {"x": 9007199254740992}}', "/x"),
        (b'{"kind": "config", "body": {"x": -9007199254740992}}', "/x"),
        (b'{"kind": "config", "body": {"deep": [1, {"x": 18446744073709551616}]}}', "/deep/1/x"),
    ],
    ids=["huge", "minus-huge", "2**53", "minus-2**53", "nested-2**64"],
)
async def test_an_integer_beyond_i_json_range_is_a_422_and_stores_nothing(
    on: Service, body: bytes, where: str
) -> None:
    response = await on.http.put(URL, content=body, headers=JSON)
    assert_unprocessable(response, "/body")
    assert "RFC 7493" in response.text
    assert f"(at {where})" in response.text
    assert (await on.http.get(URL, headers=ALICE)).status_code == 404
    listing = await on.http.get(NAMESPACE_URL, headers=ALICE)
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"] == []


async def test_an_unsafe_integer_in_a_patch_is_a_422_and_changes_nothing(on: Service) -> None:
    created = await on.http.put(URL, json={"kind": "config", "body": {"x": 1}}, headers=ALICE)
    assert created.status_code == 201, created.text
    patch = {**ALICE, "content-type": "application/merge-patch+json"}
    refused = await on.http.patch(URL, content=b'{"body": {"x": %d}}' % HUGE, headers=patch)
    assert_unprocessable(refused, "/body")
    current = await on.http.get(URL, headers=ALICE)
    assert current.status_code == 200, current.text
    assert current.json()["version"] == 1


async def test_the_largest_safe_integers_are_stored_exactly(on: Service) -> None:
    body = {"max": MAX_SAFE, "min": -MAX_SAFE}
    created = await on.http.put(URL, json={"kind": "config", "body": body}, headers=ALICE)
    assert created.status_code == 201, created.text
    read = (await on.http.get(URL, headers=ALICE)).json()["body"]
    assert read == body
    assert all(type(value) is int for value in read.values())


@pytest.mark.parametrize(
    "number", [1e20, -1e20, 1.2345678901234567e25, 1e16, 1.7976931348623157e308]
)
async def test_a_large_float_comes_back_as_the_same_float(on: Service, number: float) -> None:
    draft = {"kind": "config", "body": {"x": number}}
    created = await on.http.put(URL, json=draft, headers=ALICE)
    assert created.status_code == 201, created.text
    for response in (created, await on.http.get(URL, headers=ALICE)):
        value = response.json()["body"]["x"]
        assert type(value) is float
        assert value == number
    listed = (await on.http.get(NAMESPACE_URL, headers=ALICE)).json()["items"]
    assert [item["body"]["x"] for item in listed] == [number]
    # The same content has the same (internal) content hash: writing it again is a no-op.
    again = await on.http.put(URL, json=draft, headers=ALICE)
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 1
    assert again.headers["etag"] == created.headers["etag"]


@pytest.mark.parametrize(
    "entry",
    ["subject:a\u0000b", "group:\u0085editors", "group:a\u00a0b", "subject:\u00e9", "group:a\n"],
    ids=["nul", "nel", "nbsp", "non-ascii", "trailing-newline"],
)
async def test_an_acl_entry_outside_printable_ascii_is_a_422(on: Service, entry: str) -> None:
    draft = {"kind": "config", "body": {}, "acl": {"readers": [entry]}}
    assert_unprocessable(await on.http.put(URL, json=draft, headers=ALICE), "/acl/readers")
    assert (await on.http.get(URL, headers=ALICE)).status_code == 404


async def test_printable_ascii_acl_entries_are_accepted(on: Service) -> None:
    longest = "subject:" + "~" * 255
    acl = {"readers": sorted(["group:a!b~c", longest]), "writers": []}
    created = await on.http.put(URL, json={"kind": "config", "body": {}, "acl": acl}, headers=ALICE)
    assert created.status_code == 201, created.text
    assert created.json()["acl"] == acl
    too_long = {"readers": ["subject:" + "~" * 256]}
    refused = await on.http.put(
        URL, json={"kind": "config", "body": {}, "acl": too_long}, headers=ALICE
    )
    assert_unprocessable(refused, "/acl/readers")


@pytest.mark.parametrize(
    ("stored", "read"),
    [(HUGE, float(HUGE)), (-(2**63), -float(2**63)), (10**400, str(10**400))],
    ids=["huge", "minus-2**63", "beyond-double"],
)
async def test_a_legacy_row_with_a_huge_integer_is_still_readable(
    on: Service, stored: int, read: float | str
) -> None:
    """Rows written before integers were range-checked still answer 200 (never a 500), as the
    nearest double, or a decimal string beyond the doubles (RFC 7493, 2.2)."""
    created = await on.http.put(URL, json={"kind": "config", "body": {"x": 1}}, headers=ALICE)
    assert created.status_code == 201, created.text
    engine = create_async_engine(on.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.update(context_versions).values(body={"x": stored, "ok": [1, 2.5]})
            )
    finally:
        await engine.dispose()
    got = await on.http.get(URL, headers=ALICE)
    assert got.status_code == 200, got.text
    assert got.json()["body"] == {"x": read, "ok": [1, 2.5]}
    listing = await on.http.get(NAMESPACE_URL, headers=ALICE)
    assert listing.status_code == 200, listing.text
    assert [item["body"]["x"] for item in listing.json()["items"]] == [read]
    # Writable again: a PATCH of another field keeps the value as it now reads.
    patch = {**ALICE, "content-type": "application/merge-patch+json", "If-Match": "*"}
    patched = await on.http.patch(URL, content=b'{"body": {"y": 2}}', headers=patch)
    assert patched.status_code == 200, patched.text
    assert patched.json()["body"] == {"x": read, "ok": [1, 2.5], "y": 2}
    deleted = await on.http.delete(URL, headers={**ALICE, "If-Match": "*"})
    assert deleted.status_code in (200, 204), deleted.text


async def test_a_legacy_row_with_an_acl_entry_now_refused_is_still_readable(on: Service) -> None:
    """An entry stored before entries had to be printable ASCII keeps its context readable and
    keeps granting what it granted."""
    created = await on.http.put(URL, json={"kind": "config", "body": {}}, headers=ALICE)
    assert created.status_code == 201, created.text
    legacy = {"readers": ["subject:bob", "subject:\u00e9"], "writers": []}
    engine = create_async_engine(on.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.update(context_versions).values(acl=legacy))
    finally:
        await engine.dispose()
    got = await on.http.get(URL, headers=ALICE)
    assert got.status_code == 200, got.text
    assert got.json()["acl"] == legacy
    assert (await on.http.get(URL, headers=BOB)).status_code == 200
    listing = await on.http.get(NAMESPACE_URL, headers=ALICE)
    assert listing.status_code == 200, listing.text
