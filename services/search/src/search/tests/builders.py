"""Contexts, readers and tokens the tests share.

The readers mirror contexts' own policy tests (its tests/unit/domain/builders.py): alice owns,
bob is a named reader, carol writes through the `editors` group, eve is named nowhere, root
holds the admin scope.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from search.domain.acl import ADMIN_SCOPE, READ_SCOPE
from search.domain.model import ContextRef, IndexedContext, Reader, Removal
from search.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER
from slipway.auth.testing import hs256_signing_key, mint_token

READ = frozenset({READ_SCOPE})
ALICE = Reader(subject="alice", scopes=READ)  # owns what the tests index
BOB = Reader(subject="bob", scopes=READ)  # named a reader
CAROL = Reader(subject="carol", groups=frozenset({"editors"}), scopes=READ)  # a writer
EVE = Reader(subject="eve", scopes=READ)  # named nowhere
ROOT = Reader(subject="root", scopes=frozenset({ADMIN_SCOPE}))
EVERYONE = (ALICE, BOB, CAROL, EVE, ROOT)
SHARED_READERS = frozenset({"subject:bob"})
SHARED_WRITERS = frozenset({"group:editors"})
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def indexed(
    name: str,
    text: str,
    *,
    namespace: str = "team-a",
    version: int = 1,
    kind: str = "document",
    labels: Mapping[str, str] | None = None,
    owner: str = "alice",
    readers: Iterable[str] = SHARED_READERS,
    writers: Iterable[str] = SHARED_WRITERS,
) -> IndexedContext:
    """An indexed context owned by alice and shared with bob and the editors by default."""
    return IndexedContext(
        ref=ContextRef(namespace, name),
        version=version,
        kind=kind,
        labels=dict(labels or {}),
        owner=owner,
        readers=frozenset(readers),
        writers=frozenset(writers),
        text=text,
        updated_at=NOW,
    )


def removal(name: str, version: int, namespace: str = "team-a") -> Removal:
    """The removal of `namespace/name` at `version`."""
    return Removal(ref=ContextRef(namespace, name), version=version)


def bearer(
    subject: str, scopes: Iterable[str] = (READ_SCOPE,), groups: Iterable[str] = ()
) -> dict[str, str]:
    """An Authorization header with a development HS256 token, as the service accepts it."""
    token = mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=subject,
        scopes=list(scopes),
        claims={"groups": list(groups)} if groups else None,
        expires_in=3600,
    )
    return {"Authorization": f"Bearer {token}"}
