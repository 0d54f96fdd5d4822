"""`VerifiedTokenCache`: the principals of tokens already verified, until they stop being valid.

Verifying a token (base64, JSON, an RSA/ECDSA/HMAC signature, the claims) costs tens to
hundreds of microseconds, and a client sends the same token with every request for its whole
lifetime. The cache keeps what a successful verification produced, keyed by the SHA-256 of
the exact token string (so it holds no usable credential, and a token differing by one byte
is a miss), and gives it back while, at the time of the lookup:

- the token's own time claims still hold, by the same comparisons (and leeway) PyJWT makes:
  `exp > now - leeway`, `nbf <= now + leeway`, `iat <= now + leeway`;
- the entry is younger than `max_age_seconds`, a cap on anything the verifier cannot see
  change under a cached result;
- the verifier says the key that verified it is still the key it would use (see
  `TokenVerifier`: a rotated-out JWKS key stops its cached tokens at the next refresh).

Anything else is not a hit: the caller verifies in full, so a refusal is answered and counted
exactly as without the cache. Refusals are never cached (each costs a verification, as
before), so made-up tokens cannot fill it; only validly signed tokens can, and the LRU bound
caps that too.
"""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from slipway.auth.principal import Principal

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class CachedVerification:
    """A verified token's principal, the key that verified it, and its time bounds."""

    principal: Principal
    key: object  # identity-compared with the verifier's current key for `kid`
    kid: str | None
    expires: float  # the token's exp
    issued_at: float  # the token's iat
    not_before: float | None  # the token's nbf, when it has one
    cached_at: float


class VerifiedTokenCache:
    """A bounded LRU of `CachedVerification`s that checks the clock on every lookup."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_age_seconds: float,
        leeway_seconds: float,
        lookups: Counter | None = None,
        clock: Clock = time.time,
    ) -> None:
        if max_entries <= 0 or max_age_seconds <= 0:
            raise ValueError("a token cache needs max_entries > 0 and max_age_seconds > 0")
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self.leeway_seconds = leeway_seconds
        self._clock = clock
        self._entries: OrderedDict[bytes, CachedVerification] = OrderedDict()
        # Children bound once: `.labels()` on every request costs a lock and a lookup.
        self._hits = lookups.labels(outcome="hit") if lookups is not None else None
        self._misses = lookups.labels(outcome="miss") if lookups is not None else None
        self._stale = lookups.labels(outcome="stale") if lookups is not None else None

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key_of(token: str) -> bytes:
        """The cache key of a token: the SHA-256 of its exact (ASCII) text."""
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def lookup(
        self, token_key: bytes, key_is_current: Callable[[CachedVerification], bool]
    ) -> Principal | None:
        """The cached principal while the token and its key are still good; else None.

        An entry that is no longer good is dropped (counted `stale`), so the caller's full
        verification decides, and counts, what is wrong with the token.
        """
        entry = self._entries.get(token_key)
        if entry is None:
            if self._misses is not None:
                self._misses.inc()
            return None
        if not (self._in_time(entry) and key_is_current(entry)):
            del self._entries[token_key]
            if self._stale is not None:
                self._stale.inc()
            return None
        self._entries.move_to_end(token_key)
        if self._hits is not None:
            self._hits.inc()
        return entry.principal

    def store(
        self,
        token_key: bytes,
        principal: Principal,
        *,
        key: object,
        kid: str | None,
        expires: float,
        issued_at: float,
        not_before: float | None,
    ) -> None:
        """Remember a successful verification, evicting the least recently used past the bound."""
        self._entries[token_key] = CachedVerification(
            principal=principal,
            key=key,
            kid=kid,
            expires=expires,
            issued_at=issued_at,
            not_before=not_before,
            cached_at=self._clock(),
        )
        self._entries.move_to_end(token_key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def _in_time(self, entry: CachedVerification) -> bool:
        now = self._clock()
        leeway = self.leeway_seconds
        # The exact comparisons of PyJWT's _validate_exp/_validate_nbf/_validate_iat.
        if entry.expires <= now - leeway:
            return False
        if entry.not_before is not None and entry.not_before > now + leeway:
            return False
        if entry.issued_at > now + leeway:
            return False
        # A clock set back before the entry was made is not trusted to extend it.
        return entry.cached_at <= now < entry.cached_at + self.max_age_seconds
