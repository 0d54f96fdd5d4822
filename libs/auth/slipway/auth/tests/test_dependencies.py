"""require_scopes and the AppAuth contract: OpenAPI, problems, readiness, rate-limit keys."""

import httpx
import pytest
from fastapi import FastAPI

from slipway.auth import Authenticator
from slipway.auth.authenticator import PrincipalMiddleware
from slipway.auth.testing import mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys, build_app
from slipway.web.parts import AppAuth
from slipway.web.testing import app_client


def _auth(keys: Keys, subject: str = "user-1", scopes: tuple[str, ...] = ()) -> dict[str, str]:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, subject=subject, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


async def test_scopes_appear_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert spec["paths"]["/contexts"]["get"]["security"] == [{"bearer": ["contexts:read"]}]
    assert spec["paths"]["/contexts"]["post"]["security"] == [
        {"bearer": ["contexts:read", "contexts:write"]}
    ]
    assert "security" not in spec["paths"]["/public"]["get"]


async def test_every_scope_is_needed_and_the_problem_says_which(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post("/contexts", headers=_auth(keys, scopes=("contexts:read",)))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="the token lacks a required '
        'scope", scope="contexts:read contexts:write"'
    )
    body = response.json()
    assert body["type"] == "urn:slipway:problem:insufficient-scope"
    assert body["missing_scopes"] == ["contexts:write"]
    granted = _auth(keys, scopes=("contexts:write", "contexts:read", "extra"))
    assert (await client.post("/contexts", headers=granted)).json() == {"subject": "user-1"}


async def test_invalid_token_problem(client: httpx.AsyncClient, keys: Keys) -> None:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, expires_in=-120)
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the token has expired"'
    )
    body = response.json()
    assert body["type"] == "urn:slipway:problem:invalid-token"
    assert body["detail"] == "the token has expired"
    assert body["request_id"]


async def test_public_routes_ignore_bad_tokens(client: httpx.AsyncClient) -> None:
    response = await client.get("/public", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


async def test_readiness_check_passes_once_the_key_set_is_fetched(
    client: httpx.AsyncClient, authenticator: Authenticator
) -> None:
    await authenticator.readiness_check()  # the client's lifespan started the resource
    assert authenticator.readiness_check.name == "auth-jwks"


async def test_rate_limit_is_per_principal(authenticator: Authenticator, keys: Keys) -> None:
    app = build_app(authenticator, rate_limit=2)
    alice, bob = _auth(keys, "alice"), _auth(keys, "bob")
    async with app_client(app, client=("10.0.0.1", 1)) as client:
        assert [(await client.get("/me", headers=alice)).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        # Same IP, another principal: a bucket of its own.
        assert (await client.get("/me", headers=bob)).status_code == 200
        # No valid principal: keyed by IP, also a bucket of its own.
        response = await client.get("/public", headers={"Authorization": "Bearer junk"})
        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "1"


async def test_require_scopes_on_an_unbound_app_is_a_server_error(
    authenticator: Authenticator, keys: Keys
) -> None:
    app = build_app(authenticator)
    delattr(app.state, "slipway_authenticator")
    async with app_client(app) as client:
        assert (await client.get("/me", headers=_auth(keys))).status_code == 500


@pytest.mark.parametrize("header", ["Bearer  padded-token ", "BEARER x"])
def test_bearer_token_parsing(header: str) -> None:
    from slipway.auth import bearer_token

    assert bearer_token(header) in {"padded-token", "x"}
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def test_authenticator_is_the_app_auth_create_app_takes(authenticator: Authenticator) -> None:
    auth: AppAuth = authenticator  # mypy checks the protocol statically
    assert isinstance(auth, AppAuth)
    factory: object = auth.middleware().cls
    assert factory is PrincipalMiddleware
    assert auth.middleware().kwargs == {"authenticator": authenticator}
    app = FastAPI()
    auth.bind(app)
    assert app.state.slipway_authenticator is authenticator


def test_binding_a_second_authenticator_is_refused(authenticator: Authenticator) -> None:
    app = FastAPI()
    authenticator.bind(app)
    authenticator.bind(app)  # the same one again is harmless
    other = Authenticator(authenticator.verifier)
    with pytest.raises(RuntimeError, match="already bound"):
        other.bind(app)
