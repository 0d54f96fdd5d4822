"""Value types of the registry: keys, ACLs, actors, drafts and stored context versions."""

import math
import secrets
from functools import cached_property
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PositiveInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_serializer,
)

from contexts.domain.errors import InvalidInput, field_errors
from contexts.domain.hashing import content_hash

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
KIND_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
# Kubernetes-style label keys: an optional DNS-like prefix and a name, alphanumeric at both ends.
LABEL_KEY_PATTERN = r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$"
# `subject:<sub>` or `group:<name>`, the name 1 to 255 printable ASCII characters without space
# (an OIDC `sub` is at most 255 ASCII characters). Only explicit ASCII classes: `\S`, `\w`,
# `\d`, `\s` and `.` mean different things to the OpenAPI document's readers (ECMA 262
# regexes: U+0085 is not a space there) and to pydantic at run time (Unicode-aware), so the
# document and the server would disagree. The class also leaves out NUL, which PostgreSQL
# cannot store. `$` is the end of the text for ECMA and for pydantic's (Rust) regex engine.
ACL_ENTRY_PATTERN = r"^(subject|group):[\x21-\x7e]{1,255}$"
# A strong entity-tag: 128 random bits in hex, quoted (RFC 9110, 8.8.3).
ETAG_PATTERN = r'^"[0-9a-f]{32}"$'
MAX_LABELS = 64
MAX_ACL_ENTRIES = 256


# I-JSON (RFC 7493, 2.2): the integers every JSON implementation represents exactly, those of
# an IEEE 754 double. Beyond them parsers disagree (JavaScript rounds, orjson refuses more than
# 64 bits, PostgreSQL's jsonb keeps any numeric), so the registry refuses them on input; a
# larger number is a float (any finite double is accepted) or, as RFC 7493 advises, a string.
MAX_SAFE_INTEGER = 2**53 - 1
_MAX_POINTER = 200


def storable(value: JsonValue) -> JsonValue:
    """`value` unchanged if both databases can store it, it has one JSON text and every JSON
    implementation reads it back the same: every number finite (no NaN, no infinity, no
    1e309), every integer within +-(2**53 - 1) (I-JSON, RFC 7493 2.2: a larger one would be a
    500 when encoded, or come back rounded), and every string, keys too, Unicode text without
    NUL (PostgreSQL refuses it) or a lone surrogate (not encodable). ValueError otherwise,
    naming where in `value` (a JSON pointer, cut to `_MAX_POINTER` characters) an offending
    item is."""
    pending: list[tuple[str, JsonValue]] = [("", value)]
    while pending:
        pointer, item = pending.pop()
        try:
            _storable_item(item)
        except ValueError as error:
            where = pointer[:_MAX_POINTER] + ("..." if len(pointer) > _MAX_POINTER else "")
            raise ValueError(f"{error} (at {where or '/'})") from None
        if isinstance(item, dict):
            pending.extend((f"{pointer}/{_escaped(key)}", member) for key, member in item.items())
        elif isinstance(item, list):
            pending.extend((f"{pointer}/{index}", member) for index, member in enumerate(item))
    return value


def _storable_item(item: JsonValue) -> None:
    if isinstance(item, bool):
        return
    if isinstance(item, int) and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
        raise ValueError(
            "integers must be within -(2**53 - 1) and 2**53 - 1 (I-JSON, RFC 7493):"
            " send a larger number as a string"
        )
    if isinstance(item, float) and not math.isfinite(item):
        raise ValueError("numbers must be finite: NaN, Infinity and overflowing ones are not JSON")
    if isinstance(item, str):
        _storable_text(item)
    elif isinstance(item, dict):
        for key in item:
            _storable_text(key)


def _escaped(key: str) -> str:
    # A JSON pointer's reference token (RFC 6901), printable whatever the key holds.
    return key.replace("~", "~0").replace("/", "~1").encode("unicode_escape").decode("ascii")


def _storable_text(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text must not contain the NUL character (U+0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode: a lone surrogate is not") from None
    return text


# JSON a context may hold, and text in labels: what `storable` accepts.
StorableJson = Annotated[JsonValue, AfterValidator(storable)]
StorableText = Annotated[str, AfterValidator(_storable_text)]

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
KindName = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN)]
LabelValue = Annotated[StorableText, StringConstraints(max_length=256)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS)]
AclEntry = Annotated[str, StringConstraints(pattern=ACL_ENTRY_PATTERN)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=255)]
JsonObject = Annotated[dict[str, JsonValue], AfterValidator(storable)]
ETag = Annotated[str, StringConstraints(pattern=ETAG_PATTERN)]


def new_etag() -> str:
    """A fresh strong ETag for a new version: random, so it reveals nothing of the content."""
    # A hash of the content, salted or not, would let anyone shown the ETag test guesses of
    # the content; a random token per version only says "this version".
    return f'"{secrets.token_hex(16)}"'


def _at_most_max_entries(value: frozenset[str]) -> frozenset[str]:
    if len(value) > MAX_ACL_ENTRIES:
        raise ValueError(f"at most {MAX_ACL_ENTRIES} entries")
    return value


AclEntries = Annotated[frozenset[AclEntry], AfterValidator(_at_most_max_entries)]

_LABELS = TypeAdapter(Labels)
_NAME = TypeAdapter(Name)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContextKey(_Value):
    """A context's identity: its namespace and a name unique within it."""

    namespace: Name
    name: Name

    @classmethod
    def parse(cls, namespace: str, name: str) -> Self:
        """The key of untrusted path values; raises `InvalidInput` listing what is malformed."""
        try:
            return cls(namespace=namespace, name=name)
        except ValidationError as error:
            raise InvalidInput("malformed context key", field_errors(error)) from error

    def __str__(self) -> str:
        """`namespace/name`, as logs and messages show it."""
        return f"{self.namespace}/{self.name}"


class Acl(_Value):
    """Who besides the owner may read, and who may write, a context."""

    readers: AclEntries = frozenset()
    writers: AclEntries = frozenset()

    @field_serializer("readers", "writers")
    def _sorted(self, entries: frozenset[str]) -> list[str]:
        # Sorted so that dumps, and the hashes taken of them, do not depend on set order.
        return sorted(entries)


class Actor(_Value):
    """Who is calling: a subject, the groups it belongs to, and the scopes it was granted."""

    subject: Subject
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()

    @cached_property
    def acl_entries(self) -> frozenset[str]:
        """The ACL entries that name this actor: its `subject:` and each of its `group:`s."""
        return frozenset({f"subject:{self.subject}", *(f"group:{group}" for group in self.groups)})


def parse_namespace(namespace: str) -> str:
    """A namespace from untrusted input; raises `InvalidInput` when it is malformed."""
    try:
        return _NAME.validate_python(namespace)
    except ValidationError as error:
        raise InvalidInput("malformed namespace", field_errors(error, ("namespace",))) from error


def parse_labels(labels: object) -> dict[str, str]:
    """Validated labels from untrusted input; raises `InvalidInput` naming each bad entry."""
    try:
        return _LABELS.validate_python(labels)
    except ValidationError as error:
        raise InvalidInput("invalid labels", field_errors(error, ("labels",))) from error


class LabelSelector(_Value):
    """A `key=value` label filter for listing."""

    key: LabelKey
    value: LabelValue

    @classmethod
    def parse(cls, selector: str) -> Self:
        """The selector `key=value`; raises `InvalidInput` when it is not one."""
        key, sep, value = selector.partition("=")
        try:
            if not sep:
                raise ValueError("expected key=value")
            return cls(key=key, value=value)
        except (ValueError, ValidationError) as error:
            raise InvalidInput(
                f"invalid label selector {selector!r}: expected key=value"
            ) from error

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether `labels` carries this key with this value."""
        return labels.get(self.key) == self.value


class ContextDraft(_Value):
    """What a writer submits; `acl=None` keeps the current ACL (empty on creation)."""

    kind: KindName
    schema_version: PositiveInt
    body: JsonObject
    labels: Labels = Field(default_factory=dict)
    acl: Acl | None = None


class Context(_Value):
    """One stored version of a context: content, ownership and bookkeeping."""

    key: ContextKey
    version: PositiveInt
    kind: KindName
    schema_version: PositiveInt
    body: JsonObject
    labels: Labels
    owner: Subject
    acl: Acl
    deleted: bool = False
    created_at: AwareDatetime
    updated_at: AwareDatetime
    updated_by: Subject
    # Drawn by new_etag when the version is written and stored with it; never recomputed.
    etag: ETag

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of everything a version says besides its number and bookkeeping.

        Internal: it decides whether a write changes anything, and is never sent to a caller.
        """
        return content_hash(
            {
                "kind": self.kind,
                "schema_version": self.schema_version,
                "body": self.body,
                "labels": dict(self.labels),
                "owner": self.owner,
                "acl": self.acl.model_dump(mode="json"),
                "deleted": self.deleted,
            }
        )


class Page(_Value):
    """A page of a listing and the cursor of the next one (None on the last page)."""

    items: tuple[Context, ...]
    next_cursor: str | None = None


class PutResult(_Value):
    """A write's outcome: the current version, whether it created it, whether anything changed."""

    context: Context
    created: bool
    changed: bool
