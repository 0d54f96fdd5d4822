"""The registry's tables on one MetaData (SQLAlchemy Core), for PostgreSQL and SQLite alike.

- `context_versions`: every version of every context, append-only; its primary key
  (namespace, name, version) is what lets exactly one of several concurrent writers take a
  version number. `etag` is the random token drawn when the version was written (what
  callers see and `If-Match` compares); `content_hash` decides no-op writes and is never
  sent to a caller.
- `contexts_current`: one row per context pointing at its latest version, with the columns
  listings filter on (kind, deleted), so a page is a keyset scan of this table by name.
- `context_labels`: the labels of each context's latest version, one row per label, so label
  selectors are a portable EXISTS rather than a dialect-specific JSON containment query.
- `audit_log`: who changed what (append-only; on PostgreSQL a trigger refuses UPDATE, DELETE
  and TRUNCATE, see the migration).
- `slipway_outbox`: slipway.events' outbox: change events written in the transaction of the
  change, published by its relay.
- `slipway_idempotency`: slipway.db's idempotency table (reservations and stored responses
  under `Idempotency-Key`, for slipway.web's `IdempotencyMiddleware`).

The Alembic migrations in `contexts.migrations` create the same schema; a test compares them.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from slipway.db import UtcDateTime, idempotency_table
from slipway.events import outbox_table

NAME_LENGTH = 63
SUBJECT_LENGTH = 255
HASH_LENGTH = 64
ETAG_LENGTH = 34
LABEL_KEY_LENGTH = 63
LABEL_VALUE_LENGTH = 256
OUTBOX_TABLE = "slipway_outbox"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# JSONB on PostgreSQL (compact, comparable), JSON text elsewhere.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Autoincrementing 64-bit ids; SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


context_versions = sa.Table(
    "context_versions",
    metadata,
    sa.Column("namespace", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("schema_version", sa.Integer(), nullable=False),
    sa.Column("body", Json, nullable=False),
    sa.Column("labels", Json, nullable=False),
    sa.Column("owner", sa.String(SUBJECT_LENGTH), nullable=False),
    sa.Column("acl", Json, nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("etag", sa.String(ETAG_LENGTH), nullable=False),
    sa.Column("content_hash", sa.String(HASH_LENGTH), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(SUBJECT_LENGTH), nullable=False),
    sa.PrimaryKeyConstraint("namespace", "name", "version"),
    sa.CheckConstraint("version >= 1", name="version_positive"),
)

contexts_current = sa.Table(
    "contexts_current",
    metadata,
    sa.Column("namespace", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint("namespace", "name"),
    sa.ForeignKeyConstraint(
        ["namespace", "name", "version"],
        ["context_versions.namespace", "context_versions.name", "context_versions.version"],
    ),
    # Listing by kind: a keyset scan by name within (namespace, kind).
    sa.Index(None, "namespace", "kind", "name"),
)

context_labels = sa.Table(
    "context_labels",
    metadata,
    sa.Column("namespace", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("key", sa.String(LABEL_KEY_LENGTH), nullable=False),
    sa.Column("value", sa.String(LABEL_VALUE_LENGTH), nullable=False),
    sa.PrimaryKeyConstraint("namespace", "name", "key"),
    sa.ForeignKeyConstraint(
        ["namespace", "name"],
        ["contexts_current.namespace", "contexts_current.name"],
        ondelete="CASCADE",
    ),
    # Listing by label: the names carrying key=value in a namespace, in name order.
    sa.Index(None, "namespace", "key", "value", "name"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.Uuid(), nullable=False),
    sa.Column("actor", sa.String(SUBJECT_LENGTH), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("namespace", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("before_hash", sa.String(HASH_LENGTH), nullable=True),
    sa.Column("after_hash", sa.String(HASH_LENGTH), nullable=False),
    sa.Column("request_id", sa.Text(), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("entry_id"),
    sa.Index(None, "namespace", "name", "id"),
)

# slipway.events' outbox (its own columns, keys and partial index), on this MetaData so the
# migrations and the metadata comparison cover it.
outbox = outbox_table(metadata, name=OUTBOX_TABLE)

# slipway.db's idempotency table (its columns, key and index), likewise.
idempotency = idempotency_table(metadata)
