"""`Principal`: who a verified bearer token speaks for, as handlers receive it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from slipway.auth.scopes import NO_IMPLICATIONS, ScopeImplications


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The token's scopes: RFC 9068 `scope` (space-separated) or an `scp` string or list."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str) and item)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Principal:
    """The subject of a verified token, its scopes, the client it was issued to, its claims.

    `scopes` are the effective scopes (granted plus implied), which every check uses;
    `granted_scopes` are the ones the token listed (default: `scopes`).
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    granted_scopes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Implication only adds scopes: what was granted is always effective.
        if not self.granted_scopes:
            object.__setattr__(self, "granted_scopes", self.scopes)
        elif not self.scopes.issuperset(self.granted_scopes):
            object.__setattr__(self, "scopes", self.scopes | self.granted_scopes)

    @classmethod
    def from_claims(
        cls, claims: Mapping[str, Any], implications: ScopeImplications = NO_IMPLICATIONS
    ) -> "Principal":
        """The principal of an already verified claim set (`sub` is a non-empty string)."""
        client_id = claims.get("client_id", claims.get("azp"))
        granted = scopes_of(claims)
        return cls(
            subject=str(claims["sub"]),
            scopes=implications.expand(granted),
            client_id=client_id if isinstance(client_id, str) else None,
            claims=MappingProxyType(dict(claims)),
            granted_scopes=granted,
        )

    def has_scopes(self, *required: str) -> bool:
        """Whether every one of `required` is effective (granted or implied)."""
        return self.scopes.issuperset(required)

    def has_any_scope(self, *options: str) -> bool:
        """Whether at least one of `options` is effective (granted or implied)."""
        return not self.scopes.isdisjoint(options)

    def __str__(self) -> str:
        """The subject, so rate-limit keys and logs name the principal."""
        return self.subject
