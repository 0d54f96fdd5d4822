"""A JSON body with a repeated key is refused, never read last-wins (issue 12 finding).

Outside testing sent `{"kind": "document", ..., "kind": "config"}` and got a `config` context:
the reader saw one kind, the registry stored another. slipway.web now refuses duplicate keys
on every JSON-bodied route; these are contexts' write routes, through the whole service.
"""

import httpx
import pytest

from contexts.tests.api.conftest import ALICE

URL = "/v1/contexts/team-a/dup"
MERGE_PATCH = {**ALICE, "Content-Type": "application/merge-patch+json"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b'{"kind": "document", "body": {"content": "x"}, "kind": "config"}', "kind"),
        (b'{"kind": "config", "body": {"a": 1, "a": 2}}', "a"),
        (b'{"kind": "config", "body": {}, "labels": {"k": "1", "k": "2"}}', "k"),
    ],
)
async def test_a_put_with_a_repeated_key_is_422_and_stores_nothing(
    api: httpx.AsyncClient, body: bytes, pointer: str
) -> None:
    response = await api.put(
        URL, content=body, headers={**ALICE, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in response.text
    assert (await api.get(URL, headers=ALICE)).status_code == 404


async def test_a_patch_with_a_repeated_key_is_422_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    created = await api.put(URL, json={"kind": "config", "body": {"a": 1}}, headers=ALICE)
    assert created.status_code == 201, created.text
    response = await api.patch(URL, content=b'{"body": {"a": 2, "a": 3}}', headers=MERGE_PATCH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    current = await api.get(URL, headers=ALICE)
    assert current.json()["version"] == 1
    assert current.json()["body"] == {"a": 1}
