"""GET /v1/search through the whole app: tokens, ACL, pages, and a problem for every bad input."""

import httpx
import pytest

from search.adapters.sql import SqlSearchIndex
from search.tests.builders import bearer, indexed, removal
from slipway.web.testing import assert_problem

ALICE = bearer("alice")
BOB = bearer("bob")
CAROL = bearer("carol", groups=["editors"])
EVE = bearer("eve")
ROOT = bearer("root", scopes=["contexts:admin"])
WRITE_ONLY = bearer("alice", scopes=["contexts:write"])


async def seed(index: SqlSearchIndex) -> None:
    await index.put(
        indexed(
            "runbook",
            "How to roll back a release & <restore> the service",
            labels={"env": "prod"},
        )
    )
    await index.put(indexed("private", "roll back notes", owner="zed", readers=[], writers=[]))
    await index.put(indexed("config", "roll back settings", kind="config", namespace="team-b"))


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], **params: object
) -> httpx.Response:
    return await client.get("/v1/search", params=params, headers=headers)  # type: ignore[arg-type]


async def test_a_hit_carries_its_context_score_snippet_and_href(
    client: httpx.AsyncClient, app_index: SqlSearchIndex
) -> None:
    await seed(app_index)

    response = await search(client, ALICE, q="release", namespace="team-a")

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    (hit,) = body["items"]
    assert hit["namespace"] == "team-a"
    assert hit["name"] == "runbook"
    assert hit["version"] == 1
    assert hit["kind"] == "document"
    assert hit["labels"] == {"env": "prod"}
    assert hit["score"] > 0
    assert "<mark>release</mark>" in hit["snippet"]
    assert "&amp;" in hit["snippet"]
    assert hit["href"] == "/v1/contexts/team-a/runbook"
    assert hit["updated_at"].startswith("2026-12-01T12:00:00")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (ALICE, {"runbook", "config"}),  # owner
        (BOB, {"runbook", "config"}),  # reader
        (CAROL, {"runbook", "config"}),  # writer through a group
        (EVE, set()),  # stranger
        (ROOT, {"runbook", "config", "private"}),  # admin
    ],
)
async def test_only_what_the_caller_may_read(
    client: httpx.AsyncClient,
    app_index: SqlSearchIndex,
    headers: dict[str, str],
    expected: set[str],
) -> None:
    await seed(app_index)

    response = await search(client, headers, q="roll back")

    assert {hit["name"] for hit in response.json()["items"]} == expected


async def test_filters_and_deleted_contexts(
    client: httpx.AsyncClient, app_index: SqlSearchIndex
) -> None:
    await seed(app_index)

    by_kind = await search(client, ROOT, q="roll", kind="config")
    by_label = await client.get(
        "/v1/search", params=[("q", "roll"), ("label", "env:prod")], headers=ROOT
    )
    await app_index.put(removal("runbook", version=2))
    after_delete = await search(client, ROOT, q="release")

    assert [hit["name"] for hit in by_kind.json()["items"]] == ["config"]
    assert [hit["name"] for hit in by_label.json()["items"]] == ["runbook"]
    assert after_delete.json()["items"] == []


async def test_pages_through_a_cursor(client: httpx.AsyncClient, app_index: SqlSearchIndex) -> None:
    for n in range(5):
        await app_index.put(indexed(f"doc-{n}", "deploy " * (n + 1)))
    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": "deploy", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await search(client, ALICE, **params)).json()
        names += [hit["name"] for hit in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert names == ["doc-4", "doc-3", "doc-2", "doc-1", "doc-0"]


async def test_no_token_is_401_and_no_read_scope_is_403(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/search", params={"q": "x"})
    forbidden = await search(client, WRITE_ONLY, q="x")

    assert_problem(missing, 401)
    assert "Bearer" in missing.headers["www-authenticate"]
    assert_problem(forbidden, 403)
    assert forbidden.json()["missing_scopes"] == ["contexts:read"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 501},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "namespace": "Not A Namespace"},
        {"q": "x", "kind": "Bad_Kind"},
        {"q": "x", "label": "no-colon"},
        {"q": "x", "label": "BAD KEY:v"},
        {"q": "x", "label": "env:\x01"},
        {"q": "   "},
        {"q": " ".join(["w"] * 33)},
    ],
)
async def test_bad_input_is_a_422_problem(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    response = await search(client, ALICE, **params)

    assert_problem(response, 422)


async def test_two_values_for_one_label_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/search", params=[("q", "x"), ("label", "env:a"), ("label", "env:b")], headers=ALICE
    )

    assert_problem(response, 422)
    assert response.json()["type"] == "urn:search:problem:invalid-query"


@pytest.mark.parametrize("cursor", ["garbage!", "eyJ2IjoxfQ", "A" * 40])
async def test_a_tampered_cursor_is_a_400_problem(
    client: httpx.AsyncClient, app_index: SqlSearchIndex, cursor: str
) -> None:
    response = await search(client, ALICE, q="deploy", cursor=cursor)

    assert_problem(response, 400)
    assert response.json()["type"] == "urn:search:problem:invalid-cursor"


async def test_a_cursor_of_another_query_is_a_400_problem(
    client: httpx.AsyncClient, app_index: SqlSearchIndex
) -> None:
    for n in range(3):
        await app_index.put(indexed(f"doc-{n}", "deploy"))
    first = (await search(client, ALICE, q="deploy", limit=1)).json()

    response = await search(
        client, ALICE, q="deploy", namespace="team-b", cursor=first["next_cursor"]
    )

    assert_problem(response, 400)


async def test_hostile_query_text_is_just_words(
    client: httpx.AsyncClient, app_index: SqlSearchIndex
) -> None:
    await seed(app_index)

    for q in ['"', "-", "or", "NEAR(a b) AND * ^", "\x00", "a' OR 1=1 --", "(((", "x:*"]:
        response = await search(client, ALICE, q=q)
        assert response.status_code == 200, (q, response.text)
