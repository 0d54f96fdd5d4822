"""Bearer-token verification: size guard, algorithm allow-list per key, signature, claims."""

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt import PyJWK
from prometheus_client import CollectorRegistry

from slipway.auth.jwks import JwksCache
from slipway.auth.metrics import auth_metrics
from slipway.auth.principal import Principal
from slipway.auth.scopes import DEFAULT_SCOPE_IMPLICATIONS, ScopeImplications
from slipway.auth.token_cache import CachedVerification, VerifiedTokenCache

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# NumericDate claims (RFC 7519 section 2): JSON numbers, never strings or booleans.
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
# A compact JWS segment: unpadded base64url (RFC 7515 section 2).
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # empty: an unsigned token, refused by its alg

# What a client is told, per reason: enough to fix its token, nothing about our keys.
REASONS: Mapping[str, str] = {
    "too_long": "the token is too long",
    "malformed": "the token is not a well-formed JWT",
    "algorithm_not_allowed": "the token's algorithm is not accepted",
    "unknown_kid": "the token was signed with an unknown key",
    "bad_signature": "the token's signature is invalid",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "wrong_issuer": "the token was issued by another issuer",
    "wrong_audience": "the token is meant for another audience",
    "missing_claim": "the token lacks a required claim",
    "invalid_claim": "the token has an invalid claim",
    "lifetime_too_long": "the token's lifetime (exp - iat) is longer than accepted",
}

# Checked in order: subclasses before the classes they extend.
_PYJWT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "algorithm_not_allowed"),
    (jwt.InvalidKeyError, "bad_signature"),
    (jwt.DecodeError, "malformed"),
)


class InvalidTokenError(Exception):
    """A bearer token was refused; `reason` is a key of `REASONS`, safe to show and count."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.description = REASONS.get(reason, "the token is invalid")
        super().__init__(self.description)


def is_canonical_compact(token: str) -> bool:
    """Whether the token has exactly one spelling: three unpadded base64url segments whose
    unused trailing bits are zero, so no other string carries the same signature."""
    segments = token.split(".")
    if len(segments) != 3:
        return False
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            return False
        try:
            decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != segment:
            return False
    return True


def _reason_for(exc: jwt.PyJWTError) -> str:
    for error_type, reason in _PYJWT_REASONS:
        if isinstance(exc, error_type):
            return reason
    return "invalid_claim"


class TokenVerifier:
    """Turns a compact JWT into a `Principal`, or raises `InvalidTokenError`.

    The token's `aud` (string or list) must contain `audience`, or `resource` when given (the
    RFC 8707 resource identifier), compared exactly; a token without `aud` is refused.

    A verified token's principal is cached (`cache_max_entries`, LRU) and handed back while
    its `exp`/`nbf`/`iat` still hold at `clock()`, for at most `cache_max_age_seconds`, and
    only while the key that verified it is still the one its `kid` names (an HS256 secret
    never changes; a JWKS key dropped or replaced by a refresh ends its tokens' entries).
    The configuration is fixed at construction: the cache is this verifier's alone.
    Either bound 0 turns the cache off.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        resource: str | None = None,
        jwks: JwksCache | None = None,
        hs256_secret: str | None = None,
        leeway_seconds: float = 30.0,
        max_token_bytes: int = 8192,
        max_lifetime_seconds: float = 86_400.0,
        scope_implications: ScopeImplications | None = None,
        registry: CollectorRegistry | None = None,
        cache_max_entries: int = 4096,
        cache_max_age_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.resource = resource
        # `aud` (a string or a list) must name one of these exactly (RFC 7519 section 4.1.3);
        # the resource identifier too, as RFC 8707 issuers put it there.
        self.accepted_audiences = [audience]
        if resource is not None and resource != audience:
            self.accepted_audiences.append(resource)
        self.jwks = jwks
        self._hs256_key = hs256_secret.encode() if hs256_secret is not None else None
        self.leeway_seconds = leeway_seconds
        self.max_token_bytes = max_token_bytes
        self.max_lifetime_seconds = max_lifetime_seconds
        if scope_implications is None:
            scope_implications = ScopeImplications(DEFAULT_SCOPE_IMPLICATIONS)
        self.scope_implications = scope_implications
        self._metrics = auth_metrics(registry)
        self.cache: VerifiedTokenCache | None = None
        if cache_max_entries > 0 and cache_max_age_seconds > 0:
            self.cache = VerifiedTokenCache(
                max_entries=cache_max_entries,
                max_age_seconds=cache_max_age_seconds,
                leeway_seconds=leeway_seconds,
                lookups=self._metrics.token_cache_lookups,
                clock=clock,
            )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `InvalidTokenError` for anything else."""
        if len(token) > self.max_token_bytes:  # before any parsing (or hashing)
            self._metrics.rejections.labels(reason="too_long").inc()
            raise InvalidTokenError("too_long")
        cache = self.cache
        if cache is None:
            return await self._verify_counted(token, None)
        token_key = cache.key_of(token)
        principal = cache.lookup(token_key, self._key_is_current)
        if principal is not None:
            return principal
        return await self._verify_counted(token, token_key)

    async def _verify_counted(self, token: str, token_key: bytes | None) -> Principal:
        try:
            return await self._verify(token, token_key)
        except InvalidTokenError as exc:
            self._metrics.rejections.labels(reason=exc.reason).inc()
            raise

    def _key_is_current(self, entry: CachedVerification) -> bool:
        if entry.kid is None:
            return entry.key is self._hs256_key
        return self.jwks is not None and self.jwks.held_key(entry.kid) is entry.key

    async def _verify(self, token: str, token_key: bytes | None) -> Principal:
        if not is_canonical_compact(token):
            raise InvalidTokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidTokenError("malformed") from None
        key = await self._key_for(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                # One algorithm, fixed by our key, never by the token (RFC 8725 section 2.1).
                algorithms=["HS256"] if isinstance(key, bytes) else [key.algorithm_name],
                audience=self.accepted_audiences,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(_reason_for(exc)) from None
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise InvalidTokenError("invalid_claim")
        for name in NUMERIC_DATE_CLAIMS:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise InvalidTokenError("invalid_claim")
        if claims["exp"] - claims["iat"] > self.max_lifetime_seconds:
            raise InvalidTokenError("lifetime_too_long")
        principal = Principal.from_claims(claims, self.scope_implications)
        if token_key is not None and self.cache is not None:
            self.cache.store(
                token_key,
                principal,
                key=key,
                kid=None if isinstance(key, bytes) else header.get("kid"),
                expires=claims["exp"],
                issued_at=claims["iat"],
                not_before=claims.get("nbf"),
            )
        return principal

    async def _key_for(self, header: Mapping[str, Any]) -> PyJWK | bytes:
        """The one key the token may be verified with, chosen by our configuration."""
        alg = header.get("alg")
        if alg == "HS256" and self._hs256_key is not None:
            return self._hs256_key
        if self.jwks is None or alg not in self.jwks.algorithms:
            raise InvalidTokenError("algorithm_not_allowed")  # none, HS256 in production, ...
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise InvalidTokenError("unknown_kid")
        key = await self.jwks.key_for(kid)
        if key is None:
            raise InvalidTokenError("unknown_kid")
        if key.algorithm_name != alg:
            raise InvalidTokenError("algorithm_not_allowed")  # e.g. HS256 with an RSA kid
        return key
