"""EventVisibility: one lookup per change per process, the latest ACL for the whole history,
a bounded cache, and nothing kept for a namespace nobody follows."""

import asyncio
from typing import Any

from contexts.domain.events import ContextAccess
from contexts.domain.model import Acl, Actor, ContextKey
from contexts.events.visibility import EventVisibility

ALICE = Actor(subject="alice", scopes=frozenset({"contexts:read"}))
BOB = Actor(subject="bob", groups=frozenset({"ops"}), scopes=frozenset({"contexts:read"}))
ROOT = Actor(subject="root", scopes=frozenset({"contexts:admin"}))
KEY = ContextKey(namespace="team-a", name="plan")


class Latest:
    """The AccessLookup port on a dict of latest versions, counting its lookups."""

    def __init__(self) -> None:
        self.latest: dict[ContextKey, ContextAccess] = {}
        self.calls = 0

    def write(self, key: ContextKey, *readers: str) -> int:
        version = self.latest[key].version + 1 if key in self.latest else 1
        self.latest[key] = ContextAccess(
            version=version, owner="alice", acl=Acl(readers=frozenset(readers))
        )
        return version

    async def access_of(self, key: ContextKey) -> ContextAccess | None:
        self.calls += 1
        await asyncio.sleep(0)  # a real lookup yields to other subscribers
        return self.latest.get(key)


def change(key: ContextKey, version: int) -> dict[str, Any]:
    return {"namespace": key.namespace, "name": key.name, "version": version}


async def test_owner_readers_groups_and_admin_may_see_others_may_not() -> None:
    lookup = Latest()
    version = lookup.write(KEY, "group:ops")
    visibility = EventVisibility(lookup)
    eve = Actor(subject="eve", scopes=frozenset({"contexts:read"}))

    seen = [await visibility.may_see(actor, change(KEY, version)) for actor in (ALICE, BOB, ROOT)]
    assert seen == [True, True, True]
    assert await visibility.may_see(eve, change(KEY, version)) is False
    # A context never written (or unknown to the store) is seen by nobody.
    other = ContextKey(namespace="team-a", name="missing")
    assert await visibility.may_see(ROOT, change(other, 1)) is False


async def test_one_lookup_per_change_however_many_subscribers() -> None:
    lookup = Latest()
    visibility = EventVisibility(lookup)
    with visibility.following(KEY.namespace):
        version = lookup.write(KEY, "subject:bob")
        results = await asyncio.gather(
            *(visibility.may_see(BOB, change(KEY, version)) for _ in range(50))
        )
        assert all(results)
        assert lookup.calls == 1

        version = lookup.write(KEY)  # Bob off the ACL: a new version, looked up once more
        assert not any(
            await asyncio.gather(
                *(visibility.may_see(BOB, change(KEY, version)) for _ in range(50))
            )
        )
        assert lookup.calls == 2


async def test_the_latest_acl_known_governs_older_events() -> None:
    lookup = Latest()
    visibility = EventVisibility(lookup)
    with visibility.following(KEY.namespace):
        first = lookup.write(KEY)
        second = lookup.write(KEY, "subject:bob")
        assert await visibility.may_see(BOB, change(KEY, second))
        # Version 1 did not list Bob, but the latest version does: its history is his too.
        assert await visibility.may_see(BOB, change(KEY, first))
        assert lookup.calls == 1


async def test_entries_of_a_namespace_nobody_follows_are_forgotten() -> None:
    lookup = Latest()
    visibility = EventVisibility(lookup)
    with visibility.following(KEY.namespace):
        version = lookup.write(KEY, "subject:bob")
        assert await visibility.may_see(BOB, change(KEY, version))
    assert len(visibility) == 0
    lookup.write(KEY)  # Bob removed while nobody here followed the namespace
    with visibility.following(KEY.namespace):
        # A replay of the old event is judged by the ACL as it is now.
        assert not await visibility.may_see(BOB, change(KEY, version))


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    lookup = Latest()
    visibility = EventVisibility(lookup, max_entries=3)
    keys = [ContextKey(namespace="team-a", name=f"c{index}") for index in range(5)]
    with visibility.following("team-a"):
        for key in keys:
            await visibility.may_see(ALICE, change(key, lookup.write(key)))
        assert len(visibility) == 3
        calls = lookup.calls
        await visibility.may_see(ALICE, change(keys[-1], 1))  # cached
        assert lookup.calls == calls
        await visibility.may_see(ALICE, change(keys[0], 1))  # evicted: looked up again
        assert lookup.calls == calls + 1
