"""Scope implication: rules, the wildcard default, settings from the environment, routes."""

import httpx
import pytest
from pydantic_settings import SettingsConfigDict

from slipway.auth import AuthSettings, Principal, ScopeImplications
from slipway.auth.scopes import DEFAULT_SCOPE_IMPLICATIONS, MAX_EFFECTIVE_SCOPES
from slipway.auth.testing import mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys
from slipway.config import ConfigError, ServiceSettings, load_settings


def test_default_makes_any_prefix_admin_imply_its_read_and_write() -> None:
    rules = ScopeImplications(DEFAULT_SCOPE_IMPLICATIONS)
    assert rules.expand(frozenset({"contexts:admin"})) == {
        "contexts:admin",
        "contexts:read",
        "contexts:write",
    }
    assert rules.expand(frozenset({"billing:invoices:admin"})) >= {"billing:invoices:read"}


def test_default_implies_nothing_for_other_scopes() -> None:
    rules = ScopeImplications(DEFAULT_SCOPE_IMPLICATIONS)
    for granted in ({"admin"}, {":admin"}, {"contexts:read"}, {"contexts:administrator"}):
        assert rules.expand(frozenset(granted)) == granted


def test_implication_is_transitive_and_survives_cycles() -> None:
    rules = ScopeImplications(
        {
            "billing:owner": ["billing:admin"],
            "*:admin": ["*:write"],
            "*:write": ["*:read"],
            "a": ["b"],
            "b": ["a"],
        }
    )
    assert rules.expand(frozenset({"billing:owner"})) == {
        "billing:owner",
        "billing:admin",
        "billing:write",
        "billing:read",
    }
    assert rules.expand(frozenset({"a"})) == {"a", "b"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"*:*": ["x"]}, "at most one"),
        ({"a": ["*:read"]}, "needs a"),
        ({"a b": ["c"]}, "without spaces"),
        ({"a": [""]}, "not a scope"),
        ({"*": ["*:x"]}, "without end"),
    ],
)
def test_malformed_or_endless_rules_are_refused(rules: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScopeImplications(rules)


def test_principal_keeps_granted_scopes_beside_the_effective_ones() -> None:
    claims = {"sub": "ada", "scope": "contexts:admin"}
    principal = Principal.from_claims(claims, ScopeImplications(DEFAULT_SCOPE_IMPLICATIONS))
    assert principal.granted_scopes == {"contexts:admin"}
    assert principal.has_scopes("contexts:read", "contexts:write")
    assert principal.has_any_scope("nope", "contexts:write")
    assert not principal.has_any_scope("nope")
    plain = Principal("bob", frozenset({"x"}))
    assert plain.granted_scopes == plain.scopes == {"x"}


def test_implications_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class BillingSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="BILLING_")
        auth: AuthSettings

    monkeypatch.setenv("BILLING_AUTH__ISSUER", ISSUER)
    monkeypatch.setenv("BILLING_AUTH__AUDIENCE", AUDIENCE)
    monkeypatch.setenv("BILLING_AUTH__JWKS_URL", "https://issuer.test/jwks")
    monkeypatch.setenv("BILLING_AUTH__SCOPE_IMPLICATIONS", '{"billing:owner": ["billing:pay"]}')
    assert load_settings(BillingSettings).auth.scope_implications == {
        "billing:owner": ("billing:pay",)
    }
    monkeypatch.setenv("BILLING_AUTH__SCOPE_IMPLICATIONS", '{"*:*": ["x"]}')
    with pytest.raises(ConfigError, match="at most one"):
        load_settings(BillingSettings)


def test_settings_default_to_the_wildcard_admin_rule() -> None:
    settings = AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="https://issuer.test/j")
    assert settings.scope_implications == {"*:admin": ("*:read", "*:write")}


def test_expansion_stops_at_the_cap_granting_less_never_more() -> None:
    granted = frozenset(f"s{i}:admin" for i in range(MAX_EFFECTIVE_SCOPES))
    assert ScopeImplications(DEFAULT_SCOPE_IMPLICATIONS).expand(granted) == granted


async def test_admin_token_passes_routes_needing_read_and_write(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, scopes=["contexts:admin"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/contexts", headers=headers)).status_code == 200
    listed = (await client.get("/contexts", headers=headers)).json()
    assert listed["scopes"] == ["contexts:admin", "contexts:read", "contexts:write"]


async def test_write_does_not_imply_read(client: httpx.AsyncClient, keys: Keys) -> None:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, scopes=["contexts:write"])
    response = await client.get("/contexts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["contexts:read"]
