"""The scale benchmark's pure parts: the log capture, the wrk scripts, the ratios, the options."""

from pathlib import Path
from typing import Any

import pytest

from contexts.domain.cursor import decode_cursor, query_fingerprint
from slipway_bench import contexts_bench, scale_load
from slipway_bench.contexts_bench import Measurement
from slipway_bench.contexts_scale import parse_args
from slipway_bench.scale_explain import Statement, distinct, markdown, parse_log
from slipway_bench.scale_load import NAMESPACE, deep_cursor, growth, load_script
from slipway_bench.scale_seed import clone_statement, context_name
from slipway_bench.wrk import WrkResult

TOKEN = "t.k-n"  # noqa: S105 - not a secret: a placeholder the scripts carry
UNSAFE_TOKEN = 'a"b'  # noqa: S105 - not a secret
P = "2026-12-01 21:27:08.430 UTC [1092] postgres@bench_db"
OTHER = "2026-12-01 21:27:08.431 UTC [1093] postgres@other_db"
# A server log excerpt (log_min_duration_statement = 0), as PostgreSQL 15 writes it.
LOG = """
{P} LOG:  duration: 0.050 ms  parse s1: SELECT contexts_current.version
\tFROM contexts_current
\tWHERE contexts_current.namespace = $1::VARCHAR AND contexts_current.name = $2::VARCHAR
{P} LOG:  duration: 0.020 ms  bind s1: SELECT contexts_current.version
\tFROM contexts_current
{P} DETAIL:  parameters: $1 = 'wrong', $2 = 'bind'
{P} LOG:  duration: 0.061 ms  execute s1: SELECT contexts_current.version
\tFROM contexts_current
\tWHERE contexts_current.namespace = $1::VARCHAR AND contexts_current.name = $2::VARCHAR
{P} DETAIL:  parameters: $1 = 'scale', $2 = 'it''s'
{OTHER} LOG:  duration: 1.0 ms  execute s9: SELECT 1 FROM context_versions
{P} LOG:  duration: 0.011 ms  execute s2: select pg_catalog.version()
{P} LOG:  duration: 0.040 ms  execute s3: SELECT count(*) FROM context_versions
{P} LOG:  duration: 0.030 ms  bind s4: DELETE FROM context_labels WHERE name = $1
{P} DETAIL:  parameters: $1 = 'not the count''s'
{P} LOG:  duration: 0.100 ms  statement: COMMIT
""".replace("{P}", P).replace("{OTHER}", OTHER)


def test_the_log_yields_this_databases_execute_entries_with_their_parameters() -> None:
    found = parse_log(LOG, "bench_db")
    assert [s.sql.splitlines()[0] for s in found] == [
        "SELECT contexts_current.version",
        "SELECT count(*) FROM context_versions",
    ]
    first, count = found
    assert first.parameters == {1: "'scale'", 2: "'it''s'"}
    assert first.duration_ms == 0.061
    assert "AND contexts_current.name = 'it''s'" in first.with_literals()
    assert count.parameters == {}  # the bind entry after it is another statement's


def test_literals_replace_each_placeholder_whole() -> None:
    statement = Statement("SELECT $1, $10, $2", {1: "'a'", 2: "NULL", 10: "'ten'"})
    assert statement.with_literals() == "SELECT 'a', 'ten', NULL"
    assert Statement(" insert into t values ($1)").is_insert
    assert not Statement("SELECT 1 FROM t").is_insert


def test_distinct_keeps_the_last_execution_of_each_text() -> None:
    a1, b, a2 = Statement("A", {1: "'1'"}), Statement("B"), Statement("A", {1: "'2'"})
    assert distinct([a1, b, a2]) == [b, a2]


def test_markdown_shows_each_plan_under_its_size_and_operation() -> None:
    item = {
        "sql": "SELECT 1",
        "parameters": {"$1": "'x'"},
        "explain": "EXPLAIN (ANALYZE, BUFFERS)",
        "plan": ["Result  (actual rows=1)"],
        "error": None,
        "summary": {"seq_scan": False, "sort": False, "index_only": False, "max_rows_per_node": 1},
    }
    text = markdown({"1000": {"GET": [item]}})
    for part in ("## 1000", "### GET", "Result  (actual rows=1)"):
        assert part in text


def test_get_and_put_pick_random_keys_over_the_whole_seeded_range() -> None:
    script = load_script("GET", size=1_000_000, versions=10, token=TOKEN, nonce="n1")
    assert 'string.format("c%07d", math.random(0, 1000000 - 1))' in script
    assert '"/v1/contexts/scale/" .. random_name()' in script
    assert "done = function" in script
    put = load_script("PUT", size=5, versions=10, token=TOKEN, nonce="n1")
    assert "body()" in put
    assert "random_written_name()" in put  # never the template, c0000000
    assert "run n1" in put
    with pytest.raises(ValueError, match="token"):
        load_script("GET", size=5, versions=10, token=UNSAFE_TOKEN, nonce="n")
    with pytest.raises(ValueError, match="unknown operation"):
        load_script("DELETE", size=5, versions=10, token=TOKEN, nonce="n")


def test_the_deep_page_resumes_after_the_middle_context() -> None:
    cursor = deep_cursor(100_000)
    assert decode_cursor(cursor, query_fingerprint(NAMESPACE, None, None)) == "c0050000"
    script = load_script("LIST_DEEP", size=100_000, versions=10, token=TOKEN, nonce="n")
    assert f"cursor={cursor}" in script
    assert context_name(7) == "c0000007"


def _m(rps_requests: int, p50: float, p99: float) -> Measurement:
    wrk = WrkResult(rps_requests, 1.0, p50, p50, p99, p99, {})
    return Measurement(wrk=wrk, server_cpu_s=0.1, rss_bytes=1)


def test_growth_is_relative_to_the_smallest_size() -> None:
    assert growth(_m(500, 2.0, 10.0), _m(1000, 1.0, 5.0)) == {
        "throughput": 0.5,
        "p50": 2.0,
        "p99": 2.0,
    }
    assert growth(_m(500, 2.0, 10.0), None)["p99"] is None


def test_sizes_must_ascend_and_fit_the_names() -> None:
    assert parse_args(["--sizes", "1000,10000"]).sizes == [1000, 10000]
    for bad in ("10000,1000", "1000,1000", "1", "x", "10000000"):
        with pytest.raises(SystemExit):
            parse_args(["--sizes", bad])


def test_clone_statements_copy_every_column_but_the_overridden_ones() -> None:
    sql = clone_statement("t", ["namespace", "name", "etag"], {"name": "s.name"}, "t.a = $3")
    assert sql.startswith('INSERT INTO "t" ("namespace", "name", "etag") SELECT t."namespace",')
    assert 's.name, t."etag" FROM "t" AS t' in sql
    assert "generate_series($1::int, $2::int)" in sql
    assert sql.endswith("WHERE t.a = $3")
    with pytest.raises(RuntimeError, match="no column"):
        clone_statement("t", ["name"], {"etag": "x"}, "true")


def test_both_benchmarks_write_their_scripts_side_by_side(tmp_path: Path) -> None:
    scale: dict[str, Any] = {"size": 5, "versions": 3, "token": TOKEN, "nonce": "n1"}
    side: dict[str, Any] = {"namespace": "svc", "token": TOKEN, "nonce": "n1"}
    written = [
        scale_load.write_load_script(tmp_path, "PUT", **scale),
        contexts_bench.write_load_script(tmp_path, "PUT", **side),
    ]
    assert [path.name for path in written] == ["slipway_scale_put.lua", "slipway_contexts_put.lua"]
    assert [path.read_text(encoding="utf-8") for path in written] == [
        scale_load.load_script("PUT", **scale),
        contexts_bench.load_script("PUT", **side),
    ]
