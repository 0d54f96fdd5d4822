"""The bytes `contexts.api.representation` renders are the bytes `ContextOut` rendered.

The oracle is the rendering the routes used before: `ORJSONResponse` of
`ContextOut.of(...).model_dump(mode="json")` (and `ContextPage`, `VersionList`), compared
byte for byte on many seeded random versions: tombstones, labels, ACLs, Unicode, the largest
I-JSON integers, floats, datetimes off UTC, and versions read back without validation.
"""

import random
from datetime import UTC, datetime, timedelta, timezone

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from contexts.api.representation import RenderedVersions, json_response, render_context
from contexts.api.schemas import ContextOut, ContextPage, VersionList
from contexts.domain.model import MAX_SAFE_INTEGER, Acl, Context, ContextKey, Page
from contexts.tests.api.conftest import ALICE
from contexts.tests.unit.domain.fakes import InMemoryStore
from slipway.web import ORJSONResponse

TEXTS = [
    "",
    "plain",
    "h\u00e9llo w\u00f6rld",
    "\u65e5\u672c\u8a9e",
    "emoji \U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "rtl \u05e9\u05dc\u05d5\u05dd",
    'quote " backslash \\ slash /',
    "controls \x01\x1f\t\n\r\b\f",
    "separators \u2028\u2029 bom \ufeff",
    "combining e\u0301",
    "<script>&amp;</script>",
]
NUMBERS: list[object] = [
    0,
    -1,
    7,
    MAX_SAFE_INTEGER,
    -MAX_SAFE_INTEGER,
    2**31,
    0.1,
    -0.0,
    1.5,
    1e300,
    -1e-300,
    5e-324,
    1e16,
    123456789.123456789,
    float(MAX_SAFE_INTEGER) * 4,
    True,
    False,
    None,
]
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


def _json(rng: random.Random, depth: int) -> object:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return rng.choice(NUMBERS) if rng.random() < 0.5 else rng.choice(TEXTS)
    if roll < 0.7:
        return [_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_text(rng): _json(rng, depth + 1) for _ in range(rng.randrange(5))}


def _text(rng: random.Random) -> str:
    return rng.choice(TEXTS) + str(rng.randrange(100))


def _when(rng: random.Random) -> datetime:
    return datetime(
        rng.randrange(1970, 2100),
        rng.randrange(1, 13),
        rng.randrange(1, 29),
        rng.randrange(24),
        rng.randrange(60),
        rng.randrange(60),
        rng.choice([0, 1, 120000, 999999, rng.randrange(10**6)]),
        tzinfo=rng.choice(ZONES),
    )


def _entries(rng: random.Random) -> frozenset[str]:
    return frozenset(
        f"{rng.choice(['subject', 'group'])}:{rng.choice(['alice', 'bob', 'Zed', 'a-b_c', '~x'])}"
        f"{rng.randrange(50)}"
        for _ in range(rng.randrange(6))
    )


def _fields(rng: random.Random, index: int) -> dict[str, object]:
    created = _when(rng)
    return {
        "key": ContextKey(namespace=f"team-{index % 7}", name=f"ctx.{index}_{rng.randrange(9)}"),
        "version": rng.randrange(1, 2**31),
        "kind": rng.choice(["document", "agent-config", "k"]),
        "schema_version": rng.randrange(1, 5),
        "body": {_text(rng): _json(rng, 1) for _ in range(rng.randrange(6))},
        "labels": {f"l{i}.x/y": rng.choice(TEXTS) for i in range(rng.randrange(4))},
        "owner": rng.choice(["alice", "bob", "user@example.com", "\u00e9ric"]),
        "acl": Acl(readers=_entries(rng), writers=_entries(rng)),
        "deleted": rng.random() < 0.3,
        "created_at": created,
        "updated_at": created + timedelta(microseconds=rng.randrange(10**12)),
        "updated_by": rng.choice(["alice", "carol"]),
        "etag": f'"{rng.getrandbits(128):032x}"',
    }


def _contexts(count: int, seed: int = 13) -> list[Context]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    contexts = []
    for index in range(count):
        fields = _fields(rng, index)
        # Validated, as written, or built without validation, as the adapter reads a row.
        if index % 2:
            contexts.append(Context.model_construct(**fields))  # type: ignore[arg-type]
        else:
            contexts.append(Context(**fields))  # type: ignore[arg-type]
    return contexts


def _before(model: ContextOut | ContextPage | VersionList) -> bytes:
    return bytes(ORJSONResponse(model.model_dump(mode="json")).body)


CONTEXTS = _contexts(600)


def test_a_version_renders_as_contextout_did() -> None:
    cache = RenderedVersions()
    for context in CONTEXTS:
        expected = _before(ContextOut.of(context))
        assert render_context(context) == expected
        assert cache.render(context) == expected
        assert cache.render(context) == expected  # from the cache


def test_the_random_versions_cover_the_edge_cases() -> None:
    rendered = b"".join(render_context(context) for context in CONTEXTS)
    for expected in (
        b'"deleted":true',
        b'"deleted":false',
        str(MAX_SAFE_INTEGER).encode(),
        b'Z"',
        b'+02:00"',
        b'-05:30"',
        "\U0001f600".encode(),
        b"\\u0001",
    ):
        assert expected in rendered


@pytest.mark.parametrize("next_cursor", [None, "eyJ2IjoxfQ"])
@pytest.mark.parametrize("size", [0, 1, 50])
def test_a_page_renders_as_contextpage_did(size: int, next_cursor: str | None) -> None:
    page = Page(items=tuple(CONTEXTS[:size]), next_cursor=next_cursor)
    assert RenderedVersions().render_page(page) == _before(ContextPage.of(page))


@pytest.mark.parametrize("size", [0, 1, 50])
def test_versions_render_as_versionlist_did(size: int) -> None:
    versions = CONTEXTS[-size:] if size else []
    expected = _before(VersionList(items=[ContextOut.of(version) for version in versions]))
    assert RenderedVersions().render_versions(versions) == expected


def test_the_response_carries_the_headers_orjsonresponse_did() -> None:
    context = CONTEXTS[0]
    headers = {"ETag": context.etag, "Location": "/v1/contexts/a/b"}
    before = ORJSONResponse(ContextOut.of(context).model_dump(mode="json"), 201, headers)
    after = json_response(render_context(context), 201, headers)
    assert (after.status_code, after.raw_headers, after.body) == (
        before.status_code,
        before.raw_headers,
        before.body,
    )


def test_the_cache_is_bounded_by_its_size_and_evicts_the_least_recent() -> None:
    sizes = [len(render_context(context)) for context in CONTEXTS[:40]]
    cache = RenderedVersions(max_bytes=64 * max(sizes))
    for context in CONTEXTS:
        cache.render(context)
        assert cache.size <= cache.max_bytes
    assert 0 < len(cache) < len(CONTEXTS)
    recent = CONTEXTS[-1]
    assert cache.render(recent) is cache.render(recent)


def test_a_version_too_large_for_the_cache_is_rendered_every_time() -> None:
    context = CONTEXTS[0].model_copy(update={"body": {"text": "x" * 10_000}})
    cache = RenderedVersions(max_bytes=64 * 1000)
    assert cache.render(context) == _before(ContextOut.of(context))
    assert (len(cache), cache.size) == (0, 0)


def test_the_cache_counts_hits_misses_evictions_and_bytes_on_its_registry() -> None:
    registry = CollectorRegistry()
    sizes = [len(render_context(context)) for context in CONTEXTS[:3]]
    cache = RenderedVersions(max_bytes=64 * max(sizes), registry=registry)
    other = RenderedVersions(registry=registry)  # two caches on one registry add up
    for context in (*CONTEXTS, CONTEXTS[-1]):
        cache.render(context)
    other.render(CONTEXTS[0])

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"contexts_render_cache_{name}", labels)

    assert sample("lookups_total", outcome="hit") == 1
    assert sample("lookups_total", outcome="miss") == len(CONTEXTS) + 1
    kept = [c for c in CONTEXTS if len(render_context(c)) <= cache.max_bytes // 64]
    assert sample("evictions_total") == len(kept) - len(cache) > 0  # each kept, then dropped
    assert sample("bytes") == cache.size + other.size > 0


def test_another_version_or_etag_of_a_key_is_rendered_afresh() -> None:
    cache = RenderedVersions()
    first = CONTEXTS[0]
    second = first.model_copy(update={"version": first.version + 1, "body": {"v": 2}})
    third = first.model_copy(update={"etag": '"' + "0" * 32 + '"', "body": {"v": 3}})
    for context in (first, second, third, first):
        assert orjson.loads(cache.render(context))["body"] == context.body
    assert len(cache) == 3


async def test_a_read_answers_the_stored_version_not_the_rendering_of_the_write(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    """Writes are not kept: a read renders the version as storage gives it back (on
    PostgreSQL, with jsonb's key order), and a second read gives the same bytes."""
    url = "/v1/contexts/team-a/stored"
    written = await api.put(url, json={"kind": "config", "body": {"bb": 1, "a": 2}}, headers=ALICE)
    assert written.status_code == 201, written.text
    [version] = api_store.versions[ContextKey(namespace="team-a", name="stored")]
    reordered = version.model_copy(update={"body": {"a": 2, "bb": 1}})
    api_store.versions[version.key] = [reordered]
    first = await api.get(url, headers=ALICE)
    again = await api.get(url, headers=ALICE)
    assert first.content == again.content == _before(ContextOut.of(reordered))
    assert first.headers["etag"] == written.headers["etag"]
    assert first.content != written.content
