"""The resource-server bridge: RFC 9728 defaults, the SDK's user, the caller in the scope."""

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from slipway.auth import AuthSettings, AuthSettingsError, Principal
from slipway.config import Environment, ServiceSettings
from slipway.mcp import caller_of_request, protected_resource_settings, public_base_url, sdk_user
from slipway.web import WebSettings

SECRET = "a development secret of at least thirty-two bytes"  # noqa: S105 - test-only


class BillingSettings(ServiceSettings):
    """A service's settings, as far as the MCP endpoint reads them."""

    model_config = SettingsConfigDict(env_prefix="BILLING_")

    service_name: str = "billing"
    web: WebSettings = WebSettings(port=8100)
    public_base_url: str | None = None
    auth: AuthSettings = AuthSettings(
        issuer="https://auth.example.com/",
        audience="billing",
        algorithms=("HS256",),
        hs256_secret=SecretStr(SECRET),
    )


def settings(**values: object) -> BillingSettings:
    return BillingSettings.model_validate({"environment": Environment.TEST, **values})


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "http://localhost:8100"),  # noqa: S104 - a listener's host, not a bind
        ("::", "http://localhost:8100"),
        ("127.0.0.1", "http://127.0.0.1:8100"),
        ("::1", "http://[::1]:8100"),
    ],
)
def test_the_public_base_url_defaults_from_the_listener(host: str, expected: str) -> None:
    assert public_base_url(settings(web=WebSettings(host=host, port=8100))) == expected


def test_a_configured_public_base_url_wins_without_its_trailing_slash() -> None:
    configured = settings(public_base_url="https://billing.example.com/")

    assert public_base_url(configured) == "https://billing.example.com"


def test_production_needs_a_public_base_url_and_names_its_variable() -> None:
    production = BillingSettings.model_construct(
        environment=Environment.PRODUCTION,
        web=WebSettings(port=8100),
        public_base_url=None,
        service_name="billing",
    )

    with pytest.raises(AuthSettingsError, match="BILLING_PUBLIC_BASE_URL"):
        public_base_url(production)


def test_protected_resource_defaults_to_the_endpoint_and_the_scopes() -> None:
    resource = protected_resource_settings(
        settings(public_base_url="https://billing.example.com"), ("billing:read", "billing:admin")
    )

    assert resource.resource == "https://billing.example.com/mcp"
    assert list(resource.scopes_supported) == ["billing:read", "billing:admin"]
    assert resource.resource_name == "billing"
    assert resource.audience == "billing"  # the rest of `auth` is kept


def test_what_auth_sets_itself_wins() -> None:
    own = BillingSettings().auth.model_copy(
        update={
            "resource": "https://api.example.com/billing/mcp",
            "scopes_supported": ["billing:all"],
            "resource_name": "Billing",
        }
    )

    resource = protected_resource_settings(settings(auth=own), ("billing:read",))

    assert resource.resource == "https://api.example.com/billing/mcp"
    assert list(resource.scopes_supported) == ["billing:all"]
    assert resource.resource_name == "Billing"


def test_the_sdk_user_is_the_principal_with_only_its_issuer_claim() -> None:
    principal = Principal(
        subject="alice",
        scopes=frozenset({"b:write", "b:read"}),
        claims={"iss": "https://auth.example.com/", "email": "alice@example.com"},
    )

    user = sdk_user(principal, "the-token")

    assert user.access_token.token == "the-token"  # noqa: S105 - not a password
    assert user.access_token.client_id == "alice"  # no client_id: the subject
    assert user.access_token.scopes == ["b:read", "b:write"]
    assert user.access_token.subject == "alice"
    assert user.access_token.claims == {"iss": "https://auth.example.com/"}
    assert user.username == "alice"


def test_the_caller_is_read_back_only_with_its_type() -> None:
    scope = {"type": "http", "state": {"billing.mcp.caller": "alice"}}

    assert caller_of_request(scope, "billing.mcp.caller", str) == "alice"
    assert caller_of_request(scope, "billing.mcp.caller", int) is None
    assert caller_of_request(scope, "other", str) is None
    assert caller_of_request({"type": "http"}, "billing.mcp.caller", str) is None
    assert caller_of_request(None, "billing.mcp.caller", str) is None
