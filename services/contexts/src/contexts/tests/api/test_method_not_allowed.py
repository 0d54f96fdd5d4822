"""A method a context's path does not take answers a 405 problem whose `Allow` names the read.

The read of a context is the first route on its path (the router tries routes in order and the
read is the hot request), so the `Allow` of a 405 there names GET. (It names only the methods of
the first route whose path matches, as Starlette answers; not PUT, PATCH and DELETE too.)
"""

import httpx
import pytest

from contexts.tests.api.conftest import ALICE

CONTEXT = "/v1/contexts/team-a/runbook"


def allowed(response: httpx.Response) -> set[str]:
    return {method.strip() for method in response.headers["allow"].split(",")}


@pytest.mark.parametrize("method", ["POST", "OPTIONS", "TRACE"])
async def test_a_wrong_method_on_a_context_is_405_naming_the_read(
    api: httpx.AsyncClient, method: str
) -> None:
    response = await api.request(method, CONTEXT, headers=ALICE)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "GET" in allowed(response)
    assert response.json()["status"] == 405


async def test_the_read_still_answers_and_writes_still_reach_their_routes(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.get(CONTEXT, headers=ALICE)).status_code == 404
    body = {"kind": "document", "schema_version": 1, "body": {"content": "x", "format": "markdown"}}
    created = await api.put(CONTEXT, json=body, headers=ALICE)
    assert created.status_code == 201, created.text
    assert (await api.get(CONTEXT, headers=ALICE)).status_code == 200
    patched = await api.patch(
        CONTEXT,
        content=b'{"labels": {"team": "a"}}',
        headers={**ALICE, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    deleted = await api.delete(CONTEXT, headers={**ALICE, "If-Match": patched.headers["etag"]})
    assert deleted.status_code == 200, deleted.text
