"""One token-to-problem path: the dependency, a request hook and the ASGI gate answer alike."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr, ValidationError
from starlette.types import Message, Receive, Scope, Send

from slipway.auth import (
    INSUFFICIENT_SCOPE_TITLE,
    INVALID_TOKEN_TITLE,
    MISSING_TOKEN_TITLE,
    Authenticator,
    AuthSettings,
    BearerGate,
    Principal,
    bound_authenticator,
    build_authenticator,
)
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys, build_app
from slipway.web import ProblemError
from slipway.web.testing import app_client

METADATA = "https://contexts.test/.well-known/oauth-protected-resource"
SECRET = "a-development-secret-of-32-bytes-at-least"  # noqa: S105 - test-only key
SEEN_STATE_KEY = "test.principal"


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    seen = scope.get("state", {}).get(SEEN_STATE_KEY)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(seen).encode()})


def _remember(scope: Scope, principal: Principal) -> None:
    if principal.subject == "banned":
        raise ProblemError(401, "the token's subject is not acceptable")
    scope.setdefault("state", {})[SEEN_STATE_KEY] = principal.subject


def _gated_app(authenticator: Authenticator) -> FastAPI:
    app = build_app(authenticator)

    @app.get("/events")
    async def events(request: Request) -> dict[str, str]:
        principal = await bound_authenticator(request.app).principal_or_problem(
            request, "contexts:read"
        )
        return {"subject": principal.subject}

    gate = BearerGate(
        _echo,
        authenticator,
        required=("contexts:read", "contexts:write", "contexts:admin"),
        any_of=True,
        on_principal=_remember,
    )
    app.mount("/mcp", gate)
    return app


@pytest.fixture
async def gated(authenticator: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    """The test app plus an SSE-style route and a gated ASGI mount."""
    async with app_client(_gated_app(authenticator)) as http:
        yield http


def _bearer(keys: Keys, scopes: tuple[str, ...], subject: str = "user-1") -> dict[str, str]:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, subject=subject, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


def _shape(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    return (
        response.status_code,
        response.headers["content-type"],
        response.headers["www-authenticate"].split(",")[0],
        body["type"],
        body["title"],
    )


@pytest.mark.parametrize(
    ("headers", "status", "title"),
    [
        (lambda k: {}, 401, MISSING_TOKEN_TITLE),
        (lambda k: {"Authorization": "Bearer not-a-jwt"}, 401, INVALID_TOKEN_TITLE),
        (lambda k: _bearer(k, ("other:read",)), 403, INSUFFICIENT_SCOPE_TITLE),
    ],
    ids=["missing", "invalid", "insufficient"],
)
async def test_dependency_hook_and_gate_give_the_same_problem(
    gated: httpx.AsyncClient, keys: Keys, headers: Any, status: int, title: str
) -> None:
    shapes = {
        path: _shape(await gated.get(path, headers=headers(keys)))
        for path in ("/contexts", "/events", "/mcp/")
    }
    assert len(set(shapes.values())) == 1, shapes
    assert shapes["/mcp/"][0] == status
    assert shapes["/mcp/"][1] == "application/problem+json"
    assert shapes["/mcp/"][4] == title


async def test_gate_admits_any_listed_scope_and_hands_over_the_principal(
    gated: httpx.AsyncClient, keys: Keys
) -> None:
    response = await gated.get("/mcp/", headers=_bearer(keys, ("contexts:write",)))
    assert response.status_code == 200
    assert response.text == "user-1"


async def test_gate_problem_names_every_option_and_challenges_for_the_first(
    gated: httpx.AsyncClient, keys: Keys
) -> None:
    response = await gated.get("/mcp/", headers=_bearer(keys, ("other:read",)))
    assert 'scope="contexts:read"' in response.headers["www-authenticate"]
    body = response.json()
    assert body["required_scopes"] == ["contexts:read", "contexts:write", "contexts:admin"]


async def test_on_principal_can_refuse_with_a_problem(gated: httpx.AsyncClient, keys: Keys) -> None:
    response = await gated.get("/mcp/", headers=_bearer(keys, ("contexts:read",), "banned"))
    assert response.status_code == 401
    assert response.json()["detail"] == "the token's subject is not acceptable"


async def test_hook_accepts_admin_through_implication(gated: httpx.AsyncClient, keys: Keys) -> None:
    response = await gated.get("/events", headers=_bearer(keys, ("contexts:admin",)))
    assert response.json() == {"subject": "user-1"}


async def test_gate_closes_an_unauthenticated_websocket_before_accepting(
    authenticator: Authenticator,
) -> None:
    reached: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [], "state": {}}
    await BearerGate(app, authenticator)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == []


async def test_challenges_carry_the_resource_metadata_url() -> None:
    settings = AuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("HS256",),
        hs256_secret=SecretStr(SECRET),
        resource_metadata_url=METADATA,
    )
    authenticator = build_authenticator(settings, environment="test")
    token = mint_token(hs256_signing_key(SECRET), issuer=ISSUER, audience=AUDIENCE)
    async with app_client(_gated_app(authenticator)) as client:
        missing = await client.get("/mcp/")
        scoped = await client.get("/mcp/", headers={"Authorization": f"Bearer {token}"})
    assert missing.headers["www-authenticate"] == (
        f'Bearer scope="contexts:read", resource_metadata="{METADATA}"'
    )
    assert scoped.headers["www-authenticate"].endswith(f'resource_metadata="{METADATA}"')


def test_resource_metadata_url_must_be_a_plain_http_url() -> None:
    with pytest.raises(ValidationError, match="resource_metadata_url"):
        AuthSettings(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_url="https://issuer.test/jwks",
            resource_metadata_url='https://x.test/"\r\nSet-Cookie: a=b',
        )
