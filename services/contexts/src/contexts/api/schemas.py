"""Request and response bodies of the /v1 API."""

from typing import Annotated, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    WithJsonSchema,
)

from contexts.domain.audit import AuditEntry
from contexts.domain.events import ChangeAction
from contexts.domain.kinds import KindRegistry
from contexts.domain.model import (
    LABEL_KEY_PATTERN,
    MAX_LABELS,
    AclEntry,
    Context,
    JsonObject,
    KindName,
    LabelKey,
    Labels,
    LabelValue,
    Page,
    StorableJson,
)

# Text the registry stores (`StorableText`, `storable`): no U+0000, which PostgreSQL cannot
# store. `\x00` means U+0000 to ECMA 262 regexes (the document's readers) and to Python's and
# pydantic's. (A lone surrogate, the other text refused, is no Unicode text at all: JSON Schema
# has no way to write it.)
TEXT_PATTERN = r"^[^\x00]*$"
# A `label` listing filter (`LabelSelector.parse`): a label key, `=`, a label value.
LABEL_SELECTOR_PATTERN = (
    "^" + LABEL_KEY_PATTERN.removeprefix("^").removesuffix("$") + r"=[^\x00]{0,256}$"
)


def _labels_schema(*value_types: dict[str, JsonValue]) -> WithJsonSchema:
    # Every key must match (pydantic's `patternProperties` would let other keys through).
    values: dict[str, JsonValue] = {"type": "string", "maxLength": 256, "pattern": TEXT_PATTERN}
    return WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_LABELS,
            "propertyNames": {"pattern": LABEL_KEY_PATTERN},
            "additionalProperties": {"anyOf": [values, *value_types]} if value_types else values,
        }
    )


LabelsIn = Annotated[Labels, _labels_schema()]
LabelsPatch = Annotated[
    dict[LabelKey, LabelValue | None],
    Field(max_length=MAX_LABELS),
    _labels_schema({"type": "null"}),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AclIn(_In):
    """Who besides the owner may read and write: `subject:<sub>` or `group:<name>` entries."""

    readers: list[AclEntry] = Field(default_factory=list, max_length=256)
    writers: list[AclEntry] = Field(default_factory=list, max_length=256)


def _present_or_omitted(value: object) -> object:
    if value is None:
        raise ValueError("must be an integer >= 1, or omitted for the kind's latest version")
    return value


# An integer (JSON number without fraction, not a string or boolean) >= 1. Omitted, it is
# the kind's latest; `null` is refused as the OpenAPI document says (no null in its schema).
SchemaVersion = Annotated[
    Annotated[StrictInt, Field(ge=1)] | None,
    BeforeValidator(_present_or_omitted),
    WithJsonSchema({"type": "integer", "minimum": 1}),
]


class ContextIn(_In):
    """A context to create or replace (`PUT`).

    The OpenAPI document describes it per kind and schema version (`contexts.api.contract`).
    """

    kind: KindName = Field(examples=["document"])
    schema_version: SchemaVersion = Field(
        default=None, description="the kind's schema version; omitted: its latest"
    )
    body: JsonObject = Field(examples=[{"content": "# Runbook", "format": "markdown"}])
    labels: LabelsIn = Field(default_factory=dict)
    acl: AclIn | None = Field(
        default=None, description="omitted: keep the current ACL (empty on creation)"
    )


class ContextPatch(_In):
    """A JSON Merge Patch (RFC 7396) of a context: its `body` and `labels` only.

    `null` removes a member; a label set to `null` is removed.
    """

    body: StorableJson = Field(default=None, examples=[{"title": "New title"}])
    labels: LabelsPatch | None = None


class AclOut(BaseModel):
    """A context's ACL."""

    readers: list[str]
    writers: list[str]


class ContextOut(BaseModel):
    """One version of a context."""

    namespace: str
    name: str
    version: int
    kind: str
    schema_version: int
    body: JsonObject
    labels: dict[str, str]
    owner: str
    acl: AclOut
    deleted: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    updated_by: str
    etag: str = Field(description="the version's strong ETag, as in the ETag header")

    @classmethod
    def of(cls, context: Context) -> Self:
        """The representation of a stored version."""
        return cls(
            namespace=context.key.namespace,
            name=context.key.name,
            version=context.version,
            kind=context.kind,
            schema_version=context.schema_version,
            body=context.body,
            labels=dict(context.labels),
            owner=context.owner,
            acl=AclOut(readers=sorted(context.acl.readers), writers=sorted(context.acl.writers)),
            deleted=context.deleted,
            created_at=context.created_at,
            updated_at=context.updated_at,
            updated_by=context.updated_by,
            etag=context.etag,
        )


class ContextPage(BaseModel):
    """A page of a namespace's live contexts, by name."""

    items: list[ContextOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: Page) -> Self:
        """The representation of a domain page."""
        return cls(items=[ContextOut.of(item) for item in page.items], next_cursor=page.next_cursor)


class VersionList(BaseModel):
    """Every version of a context, oldest first, tombstones included."""

    items: list[ContextOut]


class AuditEntryOut(BaseModel):
    """One change to a context."""

    entry_id: str
    actor: str
    action: ChangeAction
    version: int
    before_hash: str | None
    after_hash: str
    request_id: str | None
    at: AwareDatetime

    @classmethod
    def of(cls, entry: AuditEntry) -> Self:
        """The representation of an audit entry."""
        return cls(
            entry_id=str(entry.entry_id),
            actor=entry.actor,
            action=entry.action,
            version=entry.version,
            before_hash=entry.before_hash,
            after_hash=entry.after_hash,
            request_id=entry.request_id,
            at=entry.at,
        )


class AuditList(BaseModel):
    """The audit trail of a context, oldest first."""

    items: list[AuditEntryOut]


class KindVersionOut(BaseModel):
    """One schema version of a kind."""

    version: int
    json_schema: dict[str, JsonValue] = Field(description="JSON Schema of bodies of this version")


class KindOut(BaseModel):
    """A registered kind and its schema versions, oldest first."""

    kind: str
    latest_version: int
    versions: list[KindVersionOut]


class KindList(BaseModel):
    """Every registered kind, by name."""

    items: list[KindOut]

    @classmethod
    def of(cls, kinds: KindRegistry) -> Self:
        """The representation of a kind registry."""
        return cls(
            items=[
                KindOut(
                    kind=info.kind,
                    latest_version=info.latest_version,
                    versions=[
                        KindVersionOut(
                            version=version,
                            json_schema=kinds.get(info.kind, version).json_schema(),
                        )
                        for version in info.versions
                    ],
                )
                for info in kinds.kinds()
            ]
        )
