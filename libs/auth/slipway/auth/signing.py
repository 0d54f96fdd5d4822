"""Signing keys and tokens for tests and the development authorization server.

Re-exported by `slipway.auth.testing`; a module of its own so `slipway.auth.devserver` and
`slipway.auth.testing` can both use it without importing each other.
"""

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """A private key to sign test tokens with, and the public JWK an issuer would publish."""

    kid: str
    algorithm: str
    private_key: Any = field(repr=False)
    public_jwk: dict[str, Any] = field(default_factory=dict)


def generate_signing_key(
    algorithm: Literal["RS256", "ES256"] = "RS256", *, kid: str | None = None
) -> SigningKey:
    """A fresh RSA-2048 (RS256) or P-256 (ES256) key pair with its public JWK."""
    kid = kid or f"test-{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
    if algorithm == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk = {**public, "kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(kid=kid, algorithm=algorithm, private_key=private, public_jwk=jwk)


def hs256_signing_key(secret: str) -> SigningKey:
    """A shared-secret key for development/test HS256 tokens (no kid, nothing published)."""
    return SigningKey(kid="", algorithm="HS256", private_key=secret.encode())


def jwks_document(*keys: SigningKey) -> dict[str, Any]:
    """The JWK set publishing the public half of `keys` (shared-secret keys are left out)."""
    return {"keys": [dict(key.public_jwk) for key in keys if key.public_jwk]}


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str | list[str],
    subject: str = "user-1",
    scopes: Iterable[str] = (),
    client_id: str | None = None,
    expires_in: float = 300,
    not_before: float | None = None,
    issued_at: float | None = None,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A signed JWT; `claims` and `headers` add or override members (None drops one)."""
    now = time.time()
    issued = now if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued),
        "exp": int(issued + expires_in),
        "jti": uuid.uuid4().hex,
    }
    if scopes:
        payload["scope"] = " ".join(scopes)
    if client_id is not None:
        payload["client_id"] = client_id
    if not_before is not None:
        payload["nbf"] = int(not_before)
    payload.update(claims or {})
    header: dict[str, Any] = {"kid": key.kid} if key.kid else {}
    header.update(headers or {})
    payload = {name: value for name, value in payload.items() if value is not None}
    header = {name: value for name, value in header.items() if value is not None}
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers=header)
