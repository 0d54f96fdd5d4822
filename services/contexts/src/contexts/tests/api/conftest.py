"""Fixtures of the API tests: the /v1 routes on the domain's in-memory fakes, real tokens.

`api` talks to an app holding the service's real routers, auth, error handling and
idempotency (slipway.web's middleware, on its in-memory store), with the registry on
`InMemoryStore` and a `FixedClock` (`api_clock`) the tests move. The full stack
on SQLite (`build_app`) is exercised by test_full_stack.py.
"""

from collections.abc import AsyncIterator, Callable, Iterable

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware

from contexts.api.contexts import contexts_router
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.service import ContextRegistry
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore
from slipway.auth import build_authenticator
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.web import IdempotencyMiddleware, InMemoryIdempotencyStore, ServiceParts, create_app
from slipway.web.testing import app_client

READ = "contexts:read"
WRITE = "contexts:write"
ADMIN = "contexts:admin"

Headers = dict[str, str]
TokenFactory = Callable[..., Headers]


def bearer(
    subject: str, scopes: Iterable[str] = (READ, WRITE), groups: Iterable[str] = ()
) -> Headers:
    """An Authorization header with a development HS256 token, as the service accepts it."""
    token = mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=subject,
        scopes=list(scopes),
        claims={"groups": list(groups)} if groups else None,
        # Test modules build their headers at import: a slow run (a loaded CI machine) must
        # not outlive them (300 s by default).
        expires_in=3600,
    )
    return {"Authorization": f"Bearer {token}"}


ALICE = bearer("alice")
BOB = bearer("bob")
CAROL = bearer("carol", groups=["editors"])
EVE = bearer("eve")
ROOT = bearer("root", scopes=[ADMIN])
READER_ONLY = bearer("alice", scopes=[READ])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client for the tests' real servers (the events streams), with a 5 s timeout."""
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def fuzz_headers() -> Headers:
    """ContractSuite's fuzzing sends a token with read and write, so requests get past 401."""
    return bearer("fuzzer")


def document(content: str = "hello", **extra: object) -> dict[str, object]:
    """A `document` v1 PUT body shared with bob (reader) and the editors group (writers)."""
    return {
        "kind": "document",
        "schema_version": 1,
        "body": {"content": content, "format": "markdown"},
        "acl": {"readers": ["subject:bob"], "writers": ["group:editors"]},
        **extra,
    }


@pytest.fixture
def api_clock() -> FixedClock:
    """The registry's and the idempotency keys' clock."""
    return FixedClock()


@pytest.fixture
def api_store() -> InMemoryStore:
    """The committed state of the fake registry."""
    return InMemoryStore()


def api_application(settings: Settings, store: InMemoryStore, clock: FixedClock) -> FastAPI:
    """The /v1 routes with auth and idempotency as the service composes them, on the fakes."""
    kinds = default_kinds()
    registry = ContextRegistry(store.unit_of_work, kinds, clock)
    keys = InMemoryIdempotencyStore(clock=lambda: clock.now().timestamp())
    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    return create_app(
        settings,
        ServiceParts(
            routers=[contexts_router(registry, kinds, groups_claim=settings.groups_claim)],
            auth=authenticator,
            middleware=[
                Middleware(IdempotencyMiddleware, store=keys, settings=settings.idempotency)
            ],
        ),
    )


@pytest.fixture
def api_app(settings: Settings, api_store: InMemoryStore, api_clock: FixedClock) -> FastAPI:
    """`api_application` on the test's settings, store and clock."""
    return api_application(settings, api_store, api_clock)


@pytest.fixture
async def api(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `api_app`."""
    async with app_client(api_app) as http:
        yield http
