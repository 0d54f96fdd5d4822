"""ETags are drawn at random per version: what a caller is shown says nothing of the content."""

import asyncio

from contexts.domain.model import ContextKey
from contexts.tests.unit.domain.builders import ALICE, KEY, document
from contexts.tests.unit.domain.world import World, make_world

TWIN = ContextKey(namespace=KEY.namespace, name="twin")


def test_the_same_history_in_two_registries_gets_unrelated_etags() -> None:
    first, second = make_world(), make_world()

    etags = [
        [asyncio.run(w.registry.put(ALICE, KEY, document(c))).context.etag for c in ("a", "b")]
        for w in (first, second)
    ]

    assert not set(etags[0]) & set(etags[1])


def test_every_written_version_gets_an_etag_of_its_own(world: World) -> None:
    written = [
        asyncio.run(world.registry.put(ALICE, KEY, document("same"))).context,
        asyncio.run(world.registry.put(ALICE, TWIN, document("same"))).context,
        asyncio.run(world.registry.put(ALICE, KEY, document("other"))).context,
        asyncio.run(world.registry.put(ALICE, KEY, document("same"))).context,
        asyncio.run(world.registry.delete(ALICE, KEY)),
    ]

    assert len({context.etag for context in written}) == len(written)
    assert [context.etag for context in world.store.all_versions()] == [
        context.etag for context in sorted(written, key=lambda c: (c.key.name, c.version))
    ]


def test_a_patch_that_changes_nothing_keeps_the_current_etag(world: World) -> None:
    current = asyncio.run(world.registry.put(ALICE, KEY, document())).context

    result = asyncio.run(world.registry.patch(ALICE, KEY, {"content": "hello"}))

    assert (result.changed, result.context.etag) == (False, current.etag)
    assert (asyncio.run(world.registry.get(ALICE, KEY))).etag == current.etag


def test_events_and_reads_carry_the_stored_etag(world: World) -> None:
    created = asyncio.run(world.registry.put(ALICE, KEY, document())).context

    assert [event.etag for event in world.store.events] == [created.etag]
    assert asyncio.run(world.registry.get_version(ALICE, KEY, 1)).etag == created.etag
