"""`Principal`: who a verified bearer token speaks for, as handlers receive it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


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
    """The subject of a verified token, its scopes, the client it was issued to, its claims."""

    subject: str
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> "Principal":
        """The principal of an already verified claim set (`sub` is a non-empty string)."""
        client_id = claims.get("client_id", claims.get("azp"))
        return cls(
            subject=str(claims["sub"]),
            scopes=scopes_of(claims),
            client_id=client_id if isinstance(client_id, str) else None,
            claims=MappingProxyType(dict(claims)),
        )

    def has_scopes(self, *required: str) -> bool:
        """Whether every one of `required` was granted."""
        return self.scopes.issuperset(required)

    def __str__(self) -> str:
        """The subject, so rate-limit keys and logs name the principal."""
        return self.subject
