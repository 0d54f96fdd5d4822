"""Seed search's index (`search_contexts`) fast, in SQL, in the shape real contexts give it.

`seed_index(connection, start, stop)` inserts contexts start .. stop - 1 with one
`INSERT ... SELECT ... FROM generate_series(...)` per batch, inside PostgreSQL: the generated
`document` tsvector and the GIN indexes are maintained by PostgreSQL itself as on any write.
Every row is what `search.adapters.sql.index.row_values` leaves for a context (labels_text
as it renders it), varied per row:

- 50 namespaces (`ns00` .. `ns49`), names `doc0000000` .., four kinds;
- labels `team` (20 teams) and `tier` (3 tiers);
- an owner of 100 users, readers `group:team<n>`, writers `subject:user<m>`: a reader of
  groups team0 .. team4 may read a quarter of the index (the ACL is part of every query);
- a text of 30 to 69 words drawn from `VOCABULARY` with a skew (`power(random(), 3)`), so
  the first word is in nearly every context, the second in about half, the last in a few
  per thousand, the mix of common and rare words a real corpus has.
"""

from typing import Any

BATCH = 50_000
"""Rows per INSERT: bounded transactions, progress between them."""
TABLE = "search_contexts"
NAMESPACES = 50
TEAMS = 20
USERS = 100
READER_GROUPS = tuple(f"team{n}" for n in range(5))
"""The benchmark reader's groups: 5 of the 20 teams, a quarter of the index."""
SKEW = 3
"""The exponent of the word draw: word k's share falls like k^(1/SKEW - 1)."""

_COMMON = [
    "service",
    "deploy",
    "rollback",
    "release",
    "database",
    "latency",
    "incident",
    "runbook",
    "migration",
    "cache",
    "alert",
    "replica",
    "backup",
    "restore",
    "queue",
    "worker",
    "schedule",
    "config",
    "secret",
    "token",
    "cluster",
    "network",
    "storage",
    "kernel",
    "upgrade",
    "postgres",
    "redis",
    "metrics",
    "tracing",
    "logging",
    "dashboard",
    "capacity",
    "failover",
    "outage",
    "review",
    "checklist",
    "owner",
    "oncall",
    "escalate",
    "budget",
    "quota",
    "region",
    "zone",
    "canary",
    "feature",
    "flag",
    "index",
    "search",
    "context",
    "event",
    "stream",
    "partition",
]
_SYLLABLES = ("ka", "ve", "lo", "mi", "tu", "ra", "ne", "so", "di", "po", "gu", "fe", "zi", "bo")


def vocabulary(size: int = 2500) -> list[str]:
    """`size` distinct words: the operations words above, then made-up ones (3 syllables)."""
    words = list(_COMMON)
    n = len(_SYLLABLES)
    i = 0
    while len(words) < size:
        word = _SYLLABLES[i % n] + _SYLLABLES[(i // n) % n] + _SYLLABLES[(i // n // n) % n]
        if word not in words:
            words.append(word)
        i += 1
        if i >= n**3 and len(words) < size:
            raise ValueError(f"at most {len(_COMMON) + n**3} words")
    return words[:size]


def seed_statement() -> str:
    """INSERT contexts $1 .. $2 (int), their words drawn from $3 (text[]) of length $4."""
    team = "s.i % 20"
    tiers = "(ARRAY['gold','silver','bronze'])[1 + s.i % 3]"
    kinds = "(ARRAY['document','runbook','note','decision'])[1 + s.i % 4]"
    draw = f"($3::text[])[1 + floor(power(random(), {SKEW}) * $4::int)::int]"
    return (
        f"INSERT INTO {TABLE} (namespace, name, version, deleted, kind, labels, labels_text,"  # noqa: S608
        " owner, readers, writers, text, updated_at)"
        f" SELECT 'ns' || lpad((s.i % {NAMESPACES})::text, 2, '0'),"
        " 'doc' || lpad(s.i::text, 7, '0'), 1, false,"
        f" {kinds},"
        f" jsonb_build_object('team', 'team' || ({team}), 'tier', {tiers}),"
        f" 'team team' || ({team}) || ' tier ' || {tiers},"
        f" 'user' || (s.i % {USERS}),"
        f" ARRAY['group:team' || ({team})],"
        f" ARRAY['subject:user' || ((s.i * 7) % {USERS})],"
        f" (SELECT string_agg({draw}, ' ') FROM generate_series(1, 30 + s.i % 40) AS w(j)),"
        " now() - (s.i % 10000) * interval '1 minute'"
        " FROM generate_series($1::int, $2::int) AS s(i)"
    )


async def indexed_count(connection: Any) -> int:
    """How many contexts the index holds."""
    count: int = await connection.fetchval(f"SELECT count(*) FROM {TABLE}")  # noqa: S608
    return count


async def seed_index(connection: Any, start: int, stop: int, words: list[str]) -> None:
    """Insert contexts start .. stop - 1 (see the module docstring), BATCH per transaction."""
    statement = seed_statement()
    for first in range(start, stop, BATCH):
        last = min(first + BATCH, stop) - 1
        await connection.execute(statement, first, last, words, len(words))


async def vacuum_analyze(connection: Any) -> None:
    """Fresh statistics and visibility map, as autovacuum would leave them."""
    await connection.execute(f"VACUUM (ANALYZE) {TABLE}")


async def matching(connection: Any, query: str) -> dict[str, int]:
    """How many contexts match `query` at all, and how many of them the bench reader reads."""
    row = await connection.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE readers && $2::text[]) AS readable"  # noqa: S608
        f" FROM {TABLE} WHERE document @@ websearch_to_tsquery('simple', $1)",
        query,
        [f"group:{g}" for g in READER_GROUPS],
    )
    return {"total": int(row["total"]), "readable": int(row["readable"])}
