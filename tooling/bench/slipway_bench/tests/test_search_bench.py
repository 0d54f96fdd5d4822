"""The search benchmark's pure parts: its corpus, its wrk script, its statistics."""

import math
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from slipway_bench import search_seed
from slipway_bench.latency_service import UNLIMITED_REQUESTS, service_settings
from slipway_bench.search_bench import (
    LAG_CONNECTIONS,
    LAG_GRACE_S,
    LAG_NAMESPACE,
    bucket_delta,
    compiled_search,
    counter,
    histogram_buckets,
    histogram_quantile,
    index_lags_ms,
    lag_script,
    lag_table,
    lag_writes,
    lag_wrk_command,
    parse_metrics,
    percentile,
    queries,
    search_path,
    search_script,
    search_values,
    write_outcome,
)
from slipway_bench.server import HOST
from slipway_bench.write_load import STATUS_MARKER, limited_pacing_script, run_writes
from slipway_bench.wrk import RESULT_MARKER, write_script

BEARER = "a.b-c_d"  # a stand-in: only its characters matter to the Lua script

METRICS = """\
# HELP search_indexing_lag_seconds From a change in contexts to it applied in the index.
# TYPE search_indexing_lag_seconds histogram
search_indexing_lag_seconds_bucket{le="0.01"} 0.0
search_indexing_lag_seconds_bucket{le="0.05"} 40.0
search_indexing_lag_seconds_bucket{le="0.1"} 90.0
search_indexing_lag_seconds_bucket{le="+Inf"} 100.0
search_indexing_lag_seconds_count 100.0
search_indexing_events_total{outcome="applied"} 100.0
search_indexing_events_total{outcome="duplicate"} 2.0
"""


def test_the_vocabulary_is_distinct_deterministic_and_led_by_real_words() -> None:
    words = search_seed.vocabulary(2500)
    assert len(words) == len(set(words)) == 2500
    assert words == search_seed.vocabulary(2500)
    assert words[:3] == ["service", "deploy", "rollback"]
    assert all(re.fullmatch(r"[a-z]+", w) for w in words)


def test_a_vocabulary_larger_than_the_syllables_allow_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        search_seed.vocabulary(10_000)


def test_the_queries_are_the_rarest_word_the_commonest_and_two_common_ones() -> None:
    words = search_seed.vocabulary()
    assert queries(words) == {
        "rare": words[-1],
        "common": "service",
        "two_words": "deploy rollback",
    }


def test_the_seed_statement_takes_four_parameters_and_fills_every_column() -> None:
    statement = search_seed.seed_statement()
    assert sorted(set(re.findall(r"\$(\d)", statement))) == ["1", "2", "3", "4"]
    for column in ("namespace", "labels_text", "owner", "readers", "writers", "text"):
        assert column in statement


def test_the_wrk_script_searches_the_encoded_query_with_the_token() -> None:
    script = search_script("deploy rollback", "a.b-c_d")
    assert '"/v1/search?q=deploy+rollback"' in script
    assert "Bearer a.b-c_d" in script
    assert RESULT_MARKER in script
    assert search_path("a&b") == "/v1/search?q=a%26b"


def test_a_token_the_lua_script_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        search_script("x", 'a"b')


def test_the_explained_statement_is_the_services_own_with_positional_parameters() -> None:
    sql, params = compiled_search("deploy rollback")
    assert "websearch_to_tsquery('simple', $1" in sql.replace("::VARCHAR", "")
    assert "ts_rank_cd" in sql
    assert len(params) == len(set(re.findall(r"\$(\d+)", sql)))
    assert '"deploy" "rollback"' in params  # the parsed query, as the service binds it
    assert 21 in params  # a page of 20, plus one row
    assert [
        *sorted(f"group:{g}" for g in search_seed.READER_GROUPS),
        "subject:bench-reader",
    ] in params


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_metrics_are_parsed_and_the_histogram_quantile_interpolates() -> None:
    samples = parse_metrics(METRICS)
    assert counter(samples, "search_indexing_events_total", outcome="applied") == 100.0
    assert counter(samples, "search_indexing_events_total", outcome="missing") == 0.0
    buckets = histogram_buckets(samples, "search_indexing_lag_seconds")
    assert buckets == [(0.01, 0.0), (0.05, 40.0), (0.1, 90.0), (math.inf, 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.06)
    assert histogram_quantile(buckets, 0.2) == pytest.approx(0.03)
    # Beyond the last finite bound: that bound (as Prometheus answers).
    assert histogram_quantile(buckets, 0.99) == 0.1
    assert histogram_quantile([], 0.5) is None


def test_the_bucket_delta_keeps_only_the_observations_between_two_scrapes() -> None:
    before = [(0.05, 10.0), (0.1, 10.0), (math.inf, 10.0)]
    after = [(0.05, 40.0), (0.1, 90.0), (math.inf, 100.0)]
    assert bucket_delta(after, before) == [(0.05, 30.0), (0.1, 80.0), (math.inf, 90.0)]


def test_search_gets_the_web_settings_of_the_contexts_service_and_its_own() -> None:
    web = {
        ("environment",): "development",
        ("log_level",): "INFO",
        ("log_renderer",): "json",
        ("web", "host"): HOST,
        ("web", "port"): "8123",
        ("web", "drain_delay_seconds"): "0",
        ("web", "rate_limit", "requests"): str(UNLIMITED_REQUESTS),
        ("web", "rate_limit", "window_seconds"): "1",
        ("database", "url"): "postgresql://db",
        ("migrate_on_startup",): "true",
    }
    assert service_settings(8123, "postgresql://db", None, None) == web
    assert search_values(8123, "postgresql://db") == {**web, ("indexing", "enabled"): "false"}
    assert search_values(
        8123, "postgresql://db", redis_url="redis://r", redis_prefix="p:", contexts_url="http://c"
    ) == {
        **web,
        ("indexing", "enabled"): "true",
        ("indexing", "contexts", "base_url"): "http://c",
        ("redis", "url"): "redis://r",
        ("redis", "key_prefix"): "p:",
    }


def test_the_lag_writes_are_rate_times_seconds_each_a_new_context() -> None:
    assert lag_writes(50.0, 4.0) == 200
    assert lag_writes(100.0, 0.5) == 50
    script = lag_script(rate=50.0, writes=200, token=BEARER, nonce="n1")
    assert f'"/v1/contexts/{LAG_NAMESPACE}/c%d", sent % 200' in script
    assert "local allowed = 200" in script
    assert "if responses >= 200 then wrk.thread:stop() end" in script
    assert "local interval_ms = 1000 / 50.0" in script
    assert f"Bearer {BEARER}" in script
    assert RESULT_MARKER in script
    assert STATUS_MARKER in script
    # The limit wraps the paced delay(), so it comes after it.
    assert script.index("local paced_delay = delay") > script.index("delay = function()")


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        limited_pacing_script(
            rate=1.0, limit=0, namespace="n", token=BEARER, group="g", nonce="x", contexts=1
        )


def test_the_lag_wrk_command_runs_the_writes_seconds_rounded_up_plus_the_grace() -> None:
    command = lag_wrk_command("/usr/bin/wrk", "http://127.0.0.1:1", Path("/s.lua"), 4.2)
    assert command == [
        "/usr/bin/wrk",
        "--threads=1",
        f"--connections={LAG_CONNECTIONS}",
        f"--duration={5 + LAG_GRACE_S}s",
        "--timeout=5s",
        "--script=/s.lua",
        "http://127.0.0.1:1",
    ]
    assert LAG_CONNECTIONS >= 16
    assert LAG_GRACE_S > 5  # longer than wrk's --timeout: nothing is left in flight


def test_answered_are_the_201s_and_failures_any_other_status_or_socket_error() -> None:
    statuses = {201: 97, 409: 1, 500: 2}
    errors = {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 2}
    assert write_outcome(statuses, errors) == (97, {"409": 1, "500": 2, "read": 1, "timeout": 2})
    assert write_outcome({201: 5}, dict.fromkeys(errors, 0)) == (5, {})
    assert write_outcome({}, {}) == (0, {})


def test_the_lag_is_first_seen_minus_the_rows_updated_at_in_ms() -> None:
    seen = {"c1": (1000.250, 1000.200), "c2": (1001.0, 1000.5)}
    assert index_lags_ms(seen) == [pytest.approx(50.0), pytest.approx(500.0)]
    assert index_lags_ms({}) == []


def test_the_lag_table_names_what_the_lag_is_measured_between() -> None:
    stats = {"count": 2, "min": 1.0, "p50": 2.0, "p90": 3.0, "p99": 4.0, "max": 5.0}
    run = {
        "writes": 200,
        "answered_201": 200,
        "indexed": 200,
        "never_indexed": 0,
        "failure_count": 0,
        "written_per_s": 50.0,
        "indexed_per_s": 49.9,
        "lag_ms": stats,
        "metric": {"lag_p50_ms": 30.0, "lag_p99_ms": 90.0, "applied": 200.0, "duplicate": 0.0},
        "processed_event_rows": 200,
        "exactly_once": True,
        "put": {"p50_ms": 20.0, "p99_ms": 60.0, "max_ms": 80.0},
        "cpu": {"contexts_s": 1.0, "search_s": 2.0, "wrk_s": 0.05},
    }
    table = lag_table(run)
    assert "poll: version written -> in index" in table
    assert "p50 2.0  p90 3.0  p99 4.0  max 5.0" in table
    assert "exactly once: True" in table
    assert "wrk 0.05 s" in table


class _Recorder(BaseHTTPRequestHandler):
    """201 to every PUT, keeping the connection open; closes it after 1 s idle (as uvicorn)."""

    protocol_version = "HTTP/1.1"
    timeout = 1
    paths: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.lock:
            self.paths.append(self.path)
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_wrk_sends_exactly_the_limit_of_new_contexts_and_counts_their_201s(
    recorder: str, tmp_path: Path
) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.skip("wrk is not installed")
    script = write_script(
        tmp_path, "lag", lag_script(rate=100.0, writes=30, token=BEARER, nonce="n1")
    )
    # 30 writes at 100/s take 0.3 s; without the limit wrk would send ~300 in its 3 s, and
    # without the stop at the last answer it would see the server close the idle connections.
    command = [wrk, "--threads=1", "--connections=4", "--duration=3s", f"--script={script}"]
    put, statuses = run_writes([*command, recorder], cpu=None)
    assert statuses == {201: 30}
    assert write_outcome(statuses, put.errors) == (30, {})
    assert len(_Recorder.paths) == 30
    assert sorted(_Recorder.paths) == sorted(
        f"/v1/contexts/{LAG_NAMESPACE}/c{i}" for i in range(30)
    )
