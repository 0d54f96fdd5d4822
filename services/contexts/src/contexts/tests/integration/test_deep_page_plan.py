"""A deep listing page costs what the first page costs on PostgreSQL (its plan reads a page).

tooling/bench:contexts-scale found the cursor's `name > after` bounding only
`contexts_current`: the merge join then read `context_versions` from the start of the
namespace, so page k cost O(k). The bound is now on both sides of the join.
"""

from typing import Any

import pytest
from sqlalchemy import text

from contexts.adapters.sql.repository import _page_query
from contexts.tests.integration.sql_support import migrated_postgres

CONTEXTS = 5_000
PAGE = 50

SEED = [
    """INSERT INTO context_versions (namespace, name, version, kind, schema_version, body,
       labels, owner, acl, deleted, etag, content_hash, created_at, updated_at, updated_by)
       SELECT 'deep', 'c' || lpad(g::text, 6, '0'), 1, 'config', 1, '{}', '{}', 'alice',
       '{"readers": [], "writers": []}', false, md5(g::text), md5(g::text), now(), now(),
       'alice' FROM generate_series(1, :n) AS g""",
    """INSERT INTO contexts_current (namespace, name, version, kind, deleted)
       SELECT namespace, name, version, kind, deleted FROM context_versions
       WHERE namespace = 'deep'""",
]


def _rows_read_from(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of `table` produced (times their loops)."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    found = own if plan.get("Relation Name") == table else 0
    return found + sum(_rows_read_from(child, table) for child in plan.get("Plans", []))


@pytest.mark.integration
async def test_a_page_deep_in_the_namespace_reads_about_a_page_of_versions() -> None:
    async with migrated_postgres() as database:
        async with database.engine.begin() as connection:
            for statement in SEED:
                await connection.execute(text(statement), {"n": CONTEXTS})
        async with database.engine.connect() as connection:
            await connection.execute(text("COMMIT"))
            await connection.execute(text("VACUUM ANALYZE context_versions, contexts_current"))
        query = _page_query(kind=False, after=True, label=False)
        compiled = query.compile(
            dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = {"namespace": "deep", "after": f"c{CONTEXTS // 2:06d}", "limit": PAGE + 1}
        names = compiled.positiontup or []  # asyncpg's dialect is positional ($1, $2...)
        async with database.engine.connect() as connection:
            explained = await connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.string}",
                tuple(compiled.construct_params(params)[name] for name in names),
            )
            plan = explained.scalar_one()[0]["Plan"]
    read = _rows_read_from(plan, "context_versions")
    assert read <= 2 * (PAGE + 1), f"read {read} versions for a page of {PAGE}"
