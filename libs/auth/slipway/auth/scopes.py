"""Scope implication: one granted scope stands for others (`contexts:admin` → read, write)."""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

logger = logging.getLogger("slipway.auth")

WILDCARD = "*"

# Every `<prefix>:admin` implies `<prefix>:read` and `<prefix>:write`, with no configuration.
DEFAULT_SCOPE_IMPLICATIONS: Mapping[str, tuple[str, ...]] = {"*:admin": ("*:read", "*:write")}

# A token is at most 8 KiB, so no sane rule set gets near this; past it, rules are generating
# scopes without end (e.g. {"*": ["*:x"]}) and expansion stops, granting less, never more.
MAX_EFFECTIVE_SCOPES = 1024


@dataclass(frozen=True, slots=True)
class _Rule:
    """One `pattern -> implied` rule; `*` in the pattern binds a non-empty run of text."""

    prefix: str
    suffix: str
    implied: tuple[str, ...]
    wildcard: bool

    def apply(self, scope: str) -> tuple[str, ...]:
        """The scopes `scope` implies by this rule (none when it does not match)."""
        if not self.wildcard:
            return self.implied if scope == self.prefix else ()
        core_length = len(scope) - len(self.prefix) - len(self.suffix)
        if core_length <= 0 or not (scope.startswith(self.prefix) and scope.endswith(self.suffix)):
            return ()
        bound = scope[len(self.prefix) : len(scope) - len(self.suffix)]
        return tuple(implied.replace(WILDCARD, bound) for implied in self.implied)


def _rule(pattern: str, implied: Iterable[str]) -> _Rule:
    implied = tuple(implied)
    if not pattern or any(char.isspace() for char in pattern):
        raise ValueError(f"scope pattern {pattern!r}: must be a non-empty scope without spaces")
    stars = pattern.count(WILDCARD)
    if stars > 1:
        raise ValueError(f"scope pattern {pattern!r}: at most one '*'")
    for scope in implied:
        if not scope or any(char.isspace() for char in scope):
            raise ValueError(f"{pattern!r} implies {scope!r}: not a scope")
        if WILDCARD in scope and not stars:
            raise ValueError(f"{pattern!r} implies {scope!r}: '*' needs a '*' in the pattern")
    prefix, _, suffix = pattern.partition(WILDCARD)
    return _Rule(prefix=prefix, suffix=suffix, implied=implied, wildcard=bool(stars))


class ScopeImplications:
    """Rules `{pattern: implied scopes}`; `expand` adds what granted scopes imply, transitively.

    A pattern is a scope, or a scope with one `*` that matches any non-empty text; the same
    text replaces `*` in the implied scopes: `{"*:admin": ["*:read"]}` makes
    `billing:admin` imply `billing:read`.
    """

    def __init__(self, rules: Mapping[str, Iterable[str]]) -> None:
        self._rules = tuple(_rule(pattern, implied) for pattern, implied in rules.items())
        for rule in self._rules:  # refuse rule sets that would expand without end
            probe = rule.prefix + ("probe" if rule.wildcard else "") + rule.suffix
            if len(self._closure(frozenset({probe}))) >= MAX_EFFECTIVE_SCOPES:
                raise ValueError("scope implications generate scopes without end")

    def expand(self, granted: frozenset[str]) -> frozenset[str]:
        """The effective scopes: `granted` plus every scope they imply, transitively."""
        if not self._rules:
            return granted
        effective = self._closure(granted)
        if len(effective) >= MAX_EFFECTIVE_SCOPES:
            logger.warning("scope implications stopped at %d scopes", MAX_EFFECTIVE_SCOPES)
        return effective

    def _closure(self, granted: frozenset[str]) -> frozenset[str]:
        effective = set(granted)
        pending = list(granted)
        while pending and len(effective) < MAX_EFFECTIVE_SCOPES:
            scope = pending.pop()
            for rule in self._rules:
                for implied in rule.apply(scope):
                    if implied not in effective:
                        effective.add(implied)
                        pending.append(implied)
        return frozenset(effective)


NO_IMPLICATIONS = ScopeImplications({})
