"""Listing a namespace: filters, keyset pagination, and never a context the caller can't read."""

import asyncio

import pytest

from contexts.domain.cursor import decode_cursor, encode_cursor, query_fingerprint
from contexts.domain.errors import InvalidCursor, InvalidInput
from contexts.domain.model import Acl, Actor, ContextKey, Page
from contexts.domain.service import MAX_PAGE_SIZE
from contexts.tests.unit.domain.builders import ADMIN, ALICE, BOB, EVE, config, document
from contexts.tests.unit.domain.world import World, make_world

NAMESPACE = "team-a"
SHARED_WITH_EVE = Acl(readers=frozenset({"subject:eve"}))


def key(name: str, namespace: str = NAMESPACE) -> ContextKey:
    return ContextKey(namespace=namespace, name=name)


def all_pages(world: World, actor: Actor, limit: int, **filters: str) -> list[Page]:
    pages = [asyncio.run(world.registry.list(actor, NAMESPACE, limit=limit, **filters))]
    while (cursor := pages[-1].next_cursor) is not None:
        pages.append(
            asyncio.run(
                world.registry.list(actor, NAMESPACE, limit=limit, cursor=cursor, **filters)
            )
        )
    return pages


def names(pages: list[Page]) -> list[str]:
    return [context.key.name for page in pages for context in page.items]


def seeded(visible: set[int], total: int = 20) -> World:
    """Contexts c00..c19 owned by alice; those numbered in `visible` are shared with eve."""
    world = make_world(list_batch_size=3)
    for i in range(total):
        acl = SHARED_WITH_EVE if i in visible else Acl()
        asyncio.run(world.registry.put(ALICE, key(f"c{i:02}"), document(acl=acl)))
    return world


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
def test_pages_hold_exactly_the_readable_contexts_in_name_order(limit: int) -> None:
    visible = {0, 4, 5, 11, 17, 19}
    world = seeded(visible)

    pages = all_pages(world, EVE, limit)

    assert names(pages) == [f"c{i:02}" for i in sorted(visible)]
    assert all(len(page.items) == limit for page in pages[:-1])
    assert pages[-1].items, "a cursor was issued for an empty page"


def test_cursors_only_ever_name_readable_contexts() -> None:
    world = seeded({3, 15})
    query = query_fingerprint(NAMESPACE, None, None)

    pages = all_pages(world, EVE, 1)

    assert [decode_cursor(p.next_cursor, query) for p in pages if p.next_cursor] == ["c03"]


def test_unreadable_runs_longer_than_a_batch_are_skipped_by_fetching_further() -> None:
    world = seeded({19})
    calls_before = world.store.list_calls

    page = asyncio.run(world.registry.list(EVE, NAMESPACE, limit=5))

    assert [c.key.name for c in page.items] == ["c19"]
    assert page.next_cursor is None
    assert world.store.list_calls - calls_before > 1


def test_a_caller_who_can_read_nothing_gets_an_empty_last_page() -> None:
    page = asyncio.run(seeded(set()).registry.list(EVE, NAMESPACE, limit=5))

    assert page == Page(items=(), next_cursor=None)


def test_admins_and_owners_see_everything() -> None:
    world = seeded(set(), total=7)

    assert len(names(all_pages(world, ADMIN, 2))) == 7
    assert len(names(all_pages(world, ALICE, 3))) == 7


def test_listing_filters_by_kind_and_label_and_skips_deleted_and_other_namespaces(
    world: World,
) -> None:
    registry = world.registry
    asyncio.run(registry.put(ALICE, key("doc-prod"), document(env="prod")))
    asyncio.run(registry.put(ALICE, key("doc-dev"), document(env="dev")))
    asyncio.run(registry.put(ALICE, key("cfg-prod"), config({"env": "prod"})))
    asyncio.run(registry.put(ALICE, key("gone"), document(env="prod")))
    asyncio.run(registry.delete(ALICE, key("gone")))
    asyncio.run(registry.put(ALICE, key("elsewhere", "team-b"), document(env="prod")))

    def listed(kind: str | None = None, label: str | None = None) -> list[str]:
        page = asyncio.run(registry.list(BOB, NAMESPACE, kind=kind, label=label))
        return [c.key.name for c in page.items]

    assert listed() == ["cfg-prod", "doc-dev", "doc-prod"]
    assert listed(kind="document") == ["doc-dev", "doc-prod"]
    assert listed(label="env=prod") == ["doc-prod"]
    assert listed(kind="config", label="env=prod") == []


def test_filters_apply_across_pages() -> None:
    world = make_world(list_batch_size=2)
    for i in range(9):
        draft = document(env="prod" if i % 3 == 0 else "dev")
        asyncio.run(world.registry.put(ALICE, key(f"d{i}"), draft))

    assert names(all_pages(world, BOB, 1, label="env=prod")) == ["d0", "d3", "d6"]


def test_a_malformed_cursor_is_invalid_cursor(world: World) -> None:
    with pytest.raises(InvalidCursor):
        asyncio.run(world.registry.list(ALICE, NAMESPACE, cursor="%%%"))


def test_a_cursor_from_another_listing_is_invalid_cursor() -> None:
    world = seeded(set(), total=4)
    cursor = asyncio.run(world.registry.list(ALICE, NAMESPACE, limit=2)).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor):
        asyncio.run(world.registry.list(ALICE, NAMESPACE, limit=2, cursor=cursor, kind="config"))
    with pytest.raises(InvalidCursor):
        asyncio.run(world.registry.list(ALICE, "team-b", limit=2, cursor=cursor))


def test_a_forged_cursor_for_the_same_listing_only_skips_ahead() -> None:
    world = seeded({1, 2, 3})
    forged = encode_cursor("c01", query_fingerprint(NAMESPACE, None, None))

    page = asyncio.run(world.registry.list(EVE, NAMESPACE, cursor=forged))

    assert [c.key.name for c in page.items] == ["c02", "c03"]


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_a_limit_out_of_range_is_invalid_input(world: World, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        asyncio.run(world.registry.list(ALICE, NAMESPACE, limit=limit))


def test_a_malformed_label_selector_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput, match="label selector"):
        asyncio.run(world.registry.list(ALICE, NAMESPACE, label="no-equals-sign"))


def test_a_malformed_namespace_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        asyncio.run(world.registry.list(ALICE, "Team A"))

    assert caught.value.errors[0].loc == ("namespace",)


def test_a_page_the_caller_may_read_whole_is_one_read_of_limit_plus_one_rows() -> None:
    world = make_world(list_batch_size=MAX_PAGE_SIZE + 1)
    for i in range(60):
        asyncio.run(world.registry.put(ALICE, key(f"c{i:02}"), document()))
    before = len(world.store.list_limits)

    page = asyncio.run(world.registry.list(ALICE, NAMESPACE, limit=50))

    assert len(page.items) == 50
    assert page.next_cursor is not None
    assert world.store.list_limits[before:] == [51]


def test_after_unreadable_rows_the_next_batches_are_full_batches() -> None:
    world = make_world(list_batch_size=MAX_PAGE_SIZE + 1)
    for i in range(60):
        acl = SHARED_WITH_EVE if i >= 55 else Acl()
        asyncio.run(world.registry.put(ALICE, key(f"c{i:02}"), document(acl=acl)))
    before = len(world.store.list_limits)

    page = asyncio.run(world.registry.list(EVE, NAMESPACE, limit=3))

    assert [c.key.name for c in page.items] == ["c55", "c56", "c57"]
    assert world.store.list_limits[before:] == [4, MAX_PAGE_SIZE + 1]
