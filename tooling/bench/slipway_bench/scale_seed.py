"""Seed the contexts service's own tables fast, in SQL, as copies of rows a real PUT wrote.

The scale benchmark writes one template context through the API (a PUT: the service's own
code writes its version, current pointer, labels, audit entry and outbox event) and then
copies those rows `INSERT ... SELECT ... FROM generate_series(...)` inside PostgreSQL: every
column is taken from the template row except the ones that must differ per copy (the name,
the random ETag, the audit entry's and the event's ids, and for extra versions of one
context the version number). The columns are read from the catalogue, so a column a later
migration adds is copied along rather than left at a default a PUT would not write.

Copies share the template's content, hence its `content_hash` (which covers the content, not
the key), and carry fresh 128-bit random ETags drawn the way migration 0002 draws them. The
copied outbox events are marked published (a service that made them has long relayed them),
so the relay does not replay a million events into the benchmark.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAME_DIGITS = 7
"""`c0000000` .. `c9999999`: fixed width, so name order is index order (keyset pages)."""
BATCH = 250_000
"""Rows per INSERT: bounded transactions, and progress between them."""

# 128 bits from pg_strong_random as 32 hex digits in quotes, as migration 0002 draws them.
RANDOM_ETAG = (
    "'\"' || substr(encode(sha256(uuid_send(gen_random_uuid())"
    " || uuid_send(gen_random_uuid())), 'hex'), 1, 32) || '\"'"
)
VERSIONS_TABLE = "context_versions"
CURRENT_TABLE = "contexts_current"
LABELS_TABLE = "context_labels"
AUDIT_TABLE = "audit_log"
OUTBOX_TABLE = "slipway_outbox"
TABLES = (VERSIONS_TABLE, CURRENT_TABLE, LABELS_TABLE, AUDIT_TABLE, OUTBOX_TABLE)


def context_name(index: int) -> str:
    """The name of seeded context number `index`."""
    return f"c{index:0{NAME_DIGITS}d}"


_NAME_SQL = f"'c' || lpad(s.i::text, {NAME_DIGITS}, '0')"


@dataclass(frozen=True)
class Template:
    """Where the template rows are: which key, and which version of it to copy."""

    namespace: str
    name: str
    version: int = 1


async def copyable_columns(connection: Any, table: str) -> list[str]:
    """`table`'s columns in order, without those the database numbers (serial, identity)."""
    rows = await connection.fetch(
        "SELECT column_name, column_default, is_identity FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    if not rows:
        raise RuntimeError(f"no table {table}: did the service's migrations run?")
    return [
        row["column_name"]
        for row in rows
        if row["is_identity"] != "YES"
        and not str(row["column_default"] or "").startswith("nextval(")
    ]


def clone_statement(
    table: str, columns: list[str], overrides: Mapping[str, str], template_where: str
) -> str:
    """INSERT copies of the template rows, one per `s.i` in $1..$2, with `overrides` per column.

    In the expressions `t` is the template row, `s.i` the copy's number, `s.name` its context
    name (`_NAME_SQL`) and `s.uid` a fresh random UUID; `template_where` selects the template
    rows with $3 (namespace), $4 (name) and $5 (version).
    """
    unknown = set(overrides) - set(columns)
    if unknown:
        raise RuntimeError(f"{table} has no column {', '.join(sorted(unknown))}: update scale_seed")
    values = ", ".join(overrides.get(column, f't."{column}"') for column in columns)
    names = ", ".join(f'"{column}"' for column in columns)
    return (
        f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" AS t CROSS JOIN'  # noqa: S608
        f" (SELECT i, {_NAME_SQL} AS name, gen_random_uuid() AS uid"
        f" FROM generate_series($1::int, $2::int) AS s(i)) AS s WHERE {template_where}"
    )


_OF_TEMPLATE = "t.namespace = $3 AND t.name = $4"
_OF_TEMPLATE_VERSION = f"{_OF_TEMPLATE} AND t.version = $5::int"
_EVENT_OF_TEMPLATE = "t.stream = $3 AND t.key = $4 AND (t.payload->>'version')::int = $5::int"
_PUBLISHED = "coalesce(t.published_at, t.occurred_at)"


def _event_payload(name: str, version: str, action: str | None = None) -> str:
    """The template event's payload with this copy's name, version, ETag and event id."""
    etag = (
        f"(SELECT v.etag FROM {VERSIONS_TABLE} AS v WHERE v.namespace = t.stream"  # noqa: S608
        f" AND v.name = {name} AND v.version = {version})"
    )
    fields = f"'event_id', s.uid::text, 'name', {name}, 'version', {version}, 'etag', {etag}"
    if action is not None:
        fields += f", 'action', {action}"
    return f"t.payload || jsonb_build_object({fields})"


def context_copies() -> dict[str, tuple[dict[str, str], str]]:
    """Per table: the overrides and the template filter copying context 0 as contexts `s.i`."""
    return {
        VERSIONS_TABLE: ({"name": "s.name", "etag": RANDOM_ETAG}, _OF_TEMPLATE_VERSION),
        CURRENT_TABLE: ({"name": "s.name"}, _OF_TEMPLATE),
        LABELS_TABLE: ({"name": "s.name"}, _OF_TEMPLATE),
        AUDIT_TABLE: ({"name": "s.name", "entry_id": "s.uid"}, _OF_TEMPLATE_VERSION),
        OUTBOX_TABLE: (
            {
                "key": "s.name",
                "event_id": "s.uid::text",
                "payload": _event_payload("s.name", "(t.payload->>'version')::int"),
                "published_at": _PUBLISHED,
            },
            _EVENT_OF_TEMPLATE,
        ),
    }


def version_copies() -> dict[str, tuple[dict[str, str], str]]:
    """Per table: the overrides and filter copying one context's version 1 as versions `s.i`."""
    later = "t.updated_at + s.i * interval '1 second'"
    return {
        VERSIONS_TABLE: (
            {"version": "s.i", "etag": RANDOM_ETAG, "updated_at": later},
            _OF_TEMPLATE_VERSION,
        ),
        AUDIT_TABLE: (
            {
                "version": "s.i",
                "entry_id": "s.uid",
                "action": "'updated'",
                "before_hash": "t.after_hash",
                "occurred_at": later.replace("updated_at", "occurred_at"),
            },
            _OF_TEMPLATE_VERSION,
        ),
        OUTBOX_TABLE: (
            {
                "event_id": "s.uid::text",
                "payload": _event_payload("t.key", "s.i", "'updated'"),
                "occurred_at": later.replace("updated_at", "occurred_at"),
                "published_at": later.replace("updated_at", "occurred_at"),
            },
            _EVENT_OF_TEMPLATE,
        ),
    }


def _placeholders(statement: str) -> int:
    """The highest `$n` in `statement`: asyncpg refuses extra arguments."""
    return max(int(n) for n in re.findall(r"\$(\d+)", statement))


async def _clone(
    connection: Any,
    copies: Mapping[str, tuple[dict[str, str], str]],
    template: Template,
    start: int,
    stop: int,
) -> None:
    for first in range(start, stop, BATCH):
        last = min(first + BATCH, stop) - 1
        async with connection.transaction():
            for table, (overrides, where) in copies.items():
                columns = await copyable_columns(connection, table)
                statement = clone_statement(table, columns, overrides, where)
                arguments = (first, last, template.namespace, template.name, template.version)
                await connection.execute(statement, *arguments[: _placeholders(statement)])


async def seed_contexts(connection: Any, template: Template, start: int, stop: int) -> None:
    """Copy `template` (a context PUT wrote, version 1) as contexts start .. stop - 1."""
    await _clone(connection, context_copies(), template, start, stop)


async def seed_versions(connection: Any, template: Template, versions: int) -> None:
    """Give the template context (one version, PUT wrote it) versions 2 .. `versions` too."""
    if versions < 2:
        return
    await _clone(connection, version_copies(), template, 2, versions + 1)
    await connection.execute(
        f"UPDATE {CURRENT_TABLE} SET version = $3 WHERE namespace = $1 AND name = $2",  # noqa: S608
        template.namespace,
        template.name,
        versions,
    )


async def seeded_count(connection: Any, namespace: str) -> int:
    """How many contexts `namespace` holds."""
    count: int = await connection.fetchval(
        f"SELECT count(*) FROM {CURRENT_TABLE} WHERE namespace = $1",  # noqa: S608
        namespace,
    )
    return count


async def vacuum_analyze(connection: Any) -> None:
    """VACUUM (ANALYZE) the seeded tables: fresh statistics, and a visibility map set as
    autovacuum would leave it, so index-only scans are possible as in steady state."""
    for table in TABLES:
        await connection.execute(f'VACUUM (ANALYZE) "{table}"')
