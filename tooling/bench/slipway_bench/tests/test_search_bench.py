"""The search benchmark's pure parts: its corpus, its wrk script, its statistics."""

import math
import re

import pytest

from slipway_bench import search_seed
from slipway_bench.latency_service import UNLIMITED_REQUESTS, service_settings
from slipway_bench.search_bench import (
    bucket_delta,
    compiled_search,
    counter,
    histogram_buckets,
    histogram_quantile,
    parse_metrics,
    percentile,
    queries,
    search_path,
    search_script,
    search_values,
)
from slipway_bench.server import HOST
from slipway_bench.wrk import RESULT_MARKER

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
