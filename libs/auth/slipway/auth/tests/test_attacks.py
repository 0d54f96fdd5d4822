"""The attack suite: every forged, stale, misdirected or malformed token is refused."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client import CollectorRegistry

from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300}
    claims["scope"] = "contexts:read"
    return {**claims, **overrides}


def _valid(keys: Keys, **kwargs: Any) -> str:
    return mint_token(
        keys.rsa, issuer=ISSUER, audience=AUDIENCE, scopes=["contexts:read"], **kwargs
    )


def _unsigned(keys: Keys, alg: str) -> str:
    return f"{_segment({'alg': alg, 'typ': 'JWT', 'kid': keys.rsa.kid})}.{_segment(_claims())}."


def _hs256_with_rsa_public_key(keys: Keys) -> str:
    """The classic RS/HS confusion: HMAC keyed with the issuer's public key, which is public."""
    public_pem = keys.rsa.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_segment({'alg': 'HS256', 'kid': keys.rsa.kid})}.{_segment(_claims())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _tampered(keys: Keys) -> str:
    header, _, signature = _valid(keys).split(".")
    return f"{header}.{_segment(_claims(sub='admin', scope='contexts:read admin'))}.{signature}"


def _truncated(keys: Keys) -> str:
    return _valid(keys)[:-10]


def _relabelled(keys: Keys) -> str:
    """An ES256 token whose header claims RS256 (the EC key must only ever verify ES256)."""
    token = mint_token(keys.ec, issuer=ISSUER, audience=AUDIENCE, scopes=["contexts:read"])
    _, payload, signature = token.split(".")
    return f"{_segment({'alg': 'RS256', 'kid': keys.ec.kid})}.{payload}.{signature}"


def _padded_payload(token: str) -> str:
    """The same token with `=` padding on its payload segment (when its length allows it)."""
    header, payload, signature = token.split(".")
    return ".".join((header, payload + "=" * (-len(payload) % 4 or 4), signature))


def _bearer(make: Callable[[Keys], str]) -> Callable[[Keys], dict[str, str]]:
    return lambda keys: {"Authorization": f"Bearer {make(keys)}"}


# (name, request headers, expected status, rejection reason counted, or None)
ATTACKS: list[tuple[str, Callable[[Keys], dict[str, str]], int, str | None]] = [
    ("alg_none", _bearer(lambda k: _unsigned(k, "none")), 401, "algorithm_not_allowed"),
    ("alg_None", _bearer(lambda k: _unsigned(k, "None")), 401, "algorithm_not_allowed"),
    (
        "hs256_signed_with_rsa_public_key",
        _bearer(_hs256_with_rsa_public_key),
        401,
        "algorithm_not_allowed",
    ),
    (
        "hs256_with_a_secret_hs256_disabled",
        _bearer(
            lambda k: mint_token(
                hs256_signing_key("s" * 40),
                issuer=ISSUER,
                audience=AUDIENCE,
                headers={"kid": k.rsa.kid},
            )
        ),
        401,
        "algorithm_not_allowed",
    ),
    ("es256_token_relabelled_rs256", _bearer(_relabelled), 401, "algorithm_not_allowed"),
    (
        "es256_signed_by_attacker_with_rsa_kid",
        _bearer(
            lambda k: mint_token(
                k.attacker_ec, issuer=ISSUER, audience=AUDIENCE, headers={"kid": k.rsa.kid}
            )
        ),
        401,
        "algorithm_not_allowed",
    ),
    (
        "expired",
        _bearer(lambda k: _valid(k, issued_at=time.time() - 600, expires_in=300)),
        401,
        "expired",
    ),
    (
        "not_yet_valid",
        _bearer(lambda k: _valid(k, not_before=time.time() + 600)),
        401,
        "not_yet_valid",
    ),
    (
        "issued_in_the_future",
        _bearer(lambda k: _valid(k, issued_at=time.time() + 600)),
        401,
        "not_yet_valid",
    ),
    (
        "wrong_issuer",
        _bearer(lambda k: _valid(k, claims={"iss": "https://evil.test/"})),
        401,
        "wrong_issuer",
    ),
    (
        "wrong_audience",
        _bearer(lambda k: _valid(k, claims={"aud": "billing-api"})),
        401,
        "wrong_audience",
    ),
    (
        "unknown_kid",
        _bearer(lambda k: mint_token(k.attacker_ec, issuer=ISSUER, audience=AUDIENCE)),
        401,
        "unknown_kid",
    ),
    (
        "jku_pointing_at_attacker_keys",
        _bearer(
            lambda k: mint_token(
                k.attacker_ec,
                issuer=ISSUER,
                audience=AUDIENCE,
                headers={"jku": "http://127.0.0.1:1/jwks.json"},
            )
        ),
        401,
        "unknown_kid",
    ),
    (
        "kid_path_traversal",
        _bearer(lambda k: _valid(k, headers={"kid": "../../../dev/null"})),
        401,
        "unknown_kid",
    ),
    ("missing_kid", _bearer(lambda k: _valid(k, headers={"kid": None})), 401, "unknown_kid"),
    (
        "signed_by_other_key_with_issuer_kid",
        _bearer(lambda k: mint_token(k.attacker_rsa, issuer=ISSUER, audience=AUDIENCE)),
        401,
        "bad_signature",
    ),
    ("tampered_payload", _bearer(_tampered), 401, "bad_signature"),
    ("truncated_signature", _bearer(_truncated), 401, "bad_signature"),
    ("missing_exp", _bearer(lambda k: _valid(k, claims={"exp": None})), 401, "missing_claim"),
    ("missing_sub", _bearer(lambda k: _valid(k, claims={"sub": None})), 401, "missing_claim"),
    ("exp_not_a_number", _bearer(lambda k: _valid(k, claims={"exp": "never"})), 401, "malformed"),
    ("one_megabyte_token", _bearer(lambda k: "a" * (1024 * 1024)), 401, "too_long"),
    (
        "oversized_but_well_formed",
        _bearer(lambda k: _valid(k, claims={"pad": "x" * 9000})),
        401,
        "too_long",
    ),
    # One token, one spelling (issue 12): padding or spare bits make another string for the
    # same signature, which caches and revocation lists keyed by the token would miss.
    ("signature_with_padding", _bearer(lambda k: _valid(k) + "="), 401, "malformed"),
    ("signature_with_two_pads", _bearer(lambda k: _valid(k) + "=="), 401, "malformed"),
    ("payload_with_padding", _bearer(lambda k: _padded_payload(_valid(k))), 401, "malformed"),
    (
        "numeric_string_exp",
        _bearer(lambda k: _valid(k, claims={"exp": str(int(time.time()) + 300)})),
        401,
        "invalid_claim",
    ),
    (
        "boolean_iat",
        _bearer(lambda k: _valid(k, claims={"iat": True})),
        401,
        "invalid_claim",
    ),
    (
        "lifetime_over_the_maximum",
        _bearer(lambda k: _valid(k, expires_in=2 * 86_400)),
        401,
        "lifetime_too_long",
    ),
    ("garbage", _bearer(lambda k: "not-a-jwt"), 401, "malformed"),
    ("garbage_three_segments", _bearer(lambda k: "a.b.c"), 401, "malformed"),
    ("no_token", lambda k: {}, 401, None),
    ("empty_bearer", lambda k: {"Authorization": "Bearer "}, 401, None),
    ("basic_credentials", lambda k: {"Authorization": "Basic bWFsbG9yeTpzZWNyZXQ="}, 401, None),
    (
        "missing_scope",
        _bearer(lambda k: mint_token(k.rsa, issuer=ISSUER, audience=AUDIENCE, scopes=["other"])),
        403,
        None,
    ),
]


def test_the_suite_counts_its_attacks() -> None:
    assert len(ATTACKS) == 35
    assert len({name for name, *_ in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [pytest.param(headers, status, reason, id=name) for name, headers, status, reason in ATTACKS],
)
async def test_attack_is_rejected(
    client: httpx.AsyncClient,
    keys: Keys,
    registry: CollectorRegistry,
    headers: Callable[[Keys], dict[str, str]],
    status: int,
    reason: str | None,
) -> None:
    response = await client.get("/contexts", headers=headers(keys))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert "subject" not in body
    challenge = response.headers["www-authenticate"]
    if status == 403:
        assert challenge.startswith('Bearer error="insufficient_scope"')
        assert 'scope="contexts:read"' in challenge
        assert body["required_scopes"] == ["contexts:read"]
    elif reason is None:
        # RFC 6750 3.1: no error code without credentials, only the scope to ask for.
        assert challenge == 'Bearer scope="contexts:read"'
    else:
        assert challenge.startswith('Bearer error="invalid_token"')
        assert challenge.endswith('scope="contexts:read"')
    if reason is not None:  # counted once, though middleware and dependency both ask
        rejections = registry.get_sample_value("auth_token_rejections_total", {"reason": reason})
        assert rejections == 1


async def test_a_valid_token_passes_the_same_route(client: httpx.AsyncClient, keys: Keys) -> None:
    token = mint_token(
        keys.ec, issuer=ISSUER, audience=AUDIENCE, scopes=["contexts:read"], client_id="cli"
    )
    response = await client.get("/contexts", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "user-1", "scopes": ["contexts:read"], "client_id": "cli"}


async def test_leeway_accepts_a_token_just_expired(client: httpx.AsyncClient, keys: Keys) -> None:
    token = _valid(keys, issued_at=time.time() - 310, expires_in=300)  # expired 10 s ago
    response = await client.get("/contexts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
