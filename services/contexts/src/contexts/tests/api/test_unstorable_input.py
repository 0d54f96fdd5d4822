"""Input no database can store, or with no single JSON text, is a 422 problem, never a 500.

Issue 12: NaN, Infinity, -Infinity and 1e309 in a `config` body, a lone surrogate in a value,
and (on PostgreSQL) NUL in a body, a label value or a label filter each gave a 500. The same
requests must give the same 422 problem+json on SQLite and on PostgreSQL, and store nothing.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from contexts.main import service
from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.db.testing import throwaway_postgres_database
from slipway.web.testing import app_client

URL = "/v1/contexts/team-a/settings"
JSON = {**ALICE, "content-type": "application/json"}

# Raw bodies: Python's json module writes none of these, so they are spelled out.
UNSTORABLE_BODIES = {
    "nan": b'{"kind": "config", "body": {"x": NaN}}',
    "infinity": b'{"kind": "config", "body": {"x": Infinity}}',
    "minus-infinity": b'{"kind": "config", "body": {"x": -Infinity}}',
    "overflow": b'{"kind": "config", "body": {"x": 1e309}}',
    "lone-surrogate": b'{"kind": "config", "body": {"x": "\\ud800"}}',
    "lone-surrogate-key": b'{"kind": "config", "body": {"\\udfff": 1}}',
    "nul-in-body": b'{"kind": "config", "body": {"x": "a\\u0000b"}}',
    "nul-in-label": b'{"kind": "config", "body": {}, "labels": {"env": "a\\u0000"}}',
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def client_on(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service on SQLite, then on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        url = SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        settings = Settings(environment=Environment.TEST, database=DatabaseSettings(url=url))
        async with app_client(service.build_app(settings)) as http:
            yield http
        return
    async with throwaway_postgres_database(postgres_admin_url()) as database:
        url = SecretStr(database.url.render_as_string(hide_password=False))
        settings = Settings(environment=Environment.TEST, database=DatabaseSettings(url=url))
        async with app_client(service.build_app(settings)) as http:
            yield http


def assert_unprocessable(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    text = response.text.lower()
    for internal in ("traceback", "sqlalchemy", "insert"):
        assert internal not in text


@pytest.mark.parametrize("case", sorted(UNSTORABLE_BODIES))
async def test_unstorable_put_is_a_422_and_stores_nothing(
    client_on: httpx.AsyncClient, case: str
) -> None:
    response = await client_on.put(URL, content=UNSTORABLE_BODIES[case], headers=JSON)
    assert_unprocessable(response)
    assert (await client_on.get(URL, headers=ALICE)).status_code == 404


async def test_unstorable_put_with_an_idempotency_key_is_a_422(
    client_on: httpx.AsyncClient,
) -> None:
    headers = {**JSON, "Idempotency-Key": "unstorable-1"}
    body = b'{"kind": "document", "body": {"content": "\\ud800"}}'
    assert_unprocessable(await client_on.put(URL, content=body, headers=headers))


@pytest.mark.parametrize("value", ["%00", "a%00b"])
async def test_a_nul_in_a_label_filter_is_a_422(client_on: httpx.AsyncClient, value: str) -> None:
    assert_unprocessable(
        await client_on.get(f"/v1/contexts/team-a?label=k%3D{value}", headers=ALICE)
    )


@pytest.mark.parametrize("value", ["%00", "a%00b", "%02%C3%94%00G%12"])
async def test_a_nul_in_a_kind_filter_is_a_422(client_on: httpx.AsyncClient, value: str) -> None:
    """Found by the stateful run on PostgreSQL: a NUL in `kind` reached the database (500)."""
    assert_unprocessable(
        await client_on.get(f"/v1/contexts/team-a?label=team%3Da&kind={value}", headers=ALICE)
    )


async def test_an_unstorable_patch_is_a_422_and_changes_nothing(
    client_on: httpx.AsyncClient,
) -> None:
    created = await client_on.put(URL, json={"kind": "config", "body": {"x": 1}}, headers=ALICE)
    assert created.status_code == 201, created.text
    patch = {**ALICE, "content-type": "application/merge-patch+json"}
    for body in (b'{"body": {"x": NaN}}', b'{"body": {"x": "\\u0000"}}'):
        assert_unprocessable(await client_on.patch(URL, content=body, headers=patch))
    current = await client_on.get(URL, headers=ALICE)
    assert current.json()["version"] == 1
