"""Kinds of context and their versioned body schemas.

Adding a schema version without breaking stored contexts:

1. Keep every earlier version registered: stored bodies are validated and read against the
   version they were written with, and are never rewritten.
2. Register the new version as `latest + 1`, optionally with `upgrade_from_previous`, a pure
   function from a body valid at the previous version to a body for the new one. Without it,
   bodies of the previous version must already be valid at the new one.
3. Readers that want the newest form call `upgrade(kind, from_version, body)`, which applies
   each step's upgrade in turn and validates the result against the newest schema.
"""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, JsonValue, ValidationError

from contexts.domain.errors import InvalidBody, UnknownKind, field_errors
from contexts.domain.model import JsonObject

Upgrade = Callable[[JsonObject], JsonObject]


@dataclass(frozen=True, slots=True)
class KindVersion:
    """One schema version of a kind: its model and how to upgrade bodies of the previous one."""

    kind: str
    version: int
    model: type[BaseModel]
    upgrade_from_previous: Upgrade | None = None

    def json_schema(self) -> dict[str, JsonValue]:
        """The JSON Schema of bodies of this version."""
        schema: dict[str, JsonValue] = self.model.model_json_schema()
        return schema


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A registered kind and its schema versions, oldest first."""

    kind: str
    versions: tuple[int, ...]

    @property
    def latest_version(self) -> int:
        """The newest schema version."""
        return self.versions[-1]


class KindRegistry:
    """The kinds a registry accepts, each with schema versions numbered 1, 2, ..."""

    def __init__(self) -> None:
        self._kinds: dict[str, list[KindVersion]] = {}

    def register(
        self,
        kind: str,
        version: int,
        model_cls: type[BaseModel],
        upgrade_from_previous: Upgrade | None = None,
    ) -> None:
        """Add schema `version` of `kind`; versions are registered in order, starting at 1."""
        versions = self._kinds.setdefault(kind, [])
        expected = len(versions) + 1
        if version != expected:
            raise ValueError(f"{kind}: expected schema version {expected}, got {version}")
        if version == 1 and upgrade_from_previous is not None:
            raise ValueError(f"{kind}: version 1 has no previous version to upgrade from")
        versions.append(KindVersion(kind, version, model_cls, upgrade_from_previous))

    def kinds(self) -> list[KindInfo]:
        """Every registered kind, by name."""
        return [
            KindInfo(kind, tuple(entry.version for entry in versions))
            for kind, versions in sorted(self._kinds.items())
        ]

    def get(self, kind: str, version: int) -> KindVersion:
        """Schema `version` of `kind`; raises `UnknownKind` when it is not registered."""
        versions = self._kinds.get(kind)
        if versions is None:
            raise UnknownKind(f"unknown kind {kind!r}")
        if not 1 <= version <= len(versions):
            raise UnknownKind(f"kind {kind!r} has no schema version {version}")
        return versions[version - 1]

    def latest_version(self, kind: str) -> int:
        """The newest schema version of `kind`; raises `UnknownKind` when it is not registered."""
        versions = self._kinds.get(kind)
        if versions is None:
            raise UnknownKind(f"unknown kind {kind!r}")
        return len(versions)

    def validate(self, kind: str, version: int, body: JsonValue) -> JsonObject:
        """`body` normalized by its schema; raises `InvalidBody` listing each invalid field."""
        model = self.get(kind, version).model
        try:
            normalized = model.model_validate(body).model_dump(mode="json")
        except ValidationError as error:
            raise InvalidBody(
                f"body is not a valid {kind} v{version}", field_errors(error, ("body",))
            ) from error
        if not isinstance(normalized, dict):
            raise InvalidBody(f"{kind} v{version} bodies must be JSON objects")
        return normalized

    def upgrade(self, kind: str, from_version: int, body: JsonObject) -> tuple[int, JsonObject]:
        """The newest version number and form of a body stored at `from_version`."""
        current = self.validate(kind, from_version, body)
        latest = self.latest_version(kind)
        for version in range(from_version + 1, latest + 1):
            step = self.get(kind, version).upgrade_from_previous
            upgraded = step(current) if step is not None else current
            current = self.validate(kind, version, upgraded)
        return latest, current
