"""`--breakdown`: the ablation variants, the tables' arithmetic, the JSON, and a tiny real run."""

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from slipway_bench import breakdown
from slipway_bench.breakdown import (
    APP_ITSELF,
    BARE,
    FULL,
    LAYERS,
    NO_MIDDLEWARE,
    OTLP_BASE,
    Row,
    Variant,
    build,
    callgrind_total,
    format_rows,
    instructions_per_request,
    measure,
    otlp_rows,
    otlp_variants,
    report,
    stack_rows,
    stack_variants,
)
from slipway_bench.inprocess import REQUEST, SCOPE
from slipway_bench.overhead import batch_options, parse_args


async def _get(app: FastAPI) -> dict[str, object]:
    """One request through `app`: the response start message, with its headers decoded."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, object]:
        return REQUEST

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async with app.router.lifespan_context(app):
        await app({**SCOPE, "headers": list(SCOPE["headers"])}, receive, send)
    start = sent[0]
    headers = start["headers"]
    assert isinstance(headers, list)
    return {"status": start["status"], "headers": {k.decode(): v.decode() for k, v in headers}}


def _variant(name: str) -> Variant:
    return next(v for v in stack_variants() if v.name == name)


SECURITY = {
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "cross-origin-opener-policy",
}
RATE_LIMIT = {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}


@pytest.mark.parametrize(
    ("name", "gone"),
    [
        ("minus tracing", {"traceresponse"}),
        ("minus request id", {"x-request-id"}),
        ("minus security headers", SECURITY),
        ("minus rate limit", RATE_LIMIT),
        ("minus access log", set()),
        ("minus metrics", set()),
    ],
)
async def test_each_variant_leaves_out_its_feature_and_only_that(name: str, gone: set[str]) -> None:
    full = await _get(build(_variant(FULL), None))
    ablated = await _get(build(_variant(name), None))

    assert full["status"] == ablated["status"] == 200
    full_headers, ablated_headers = full["headers"], ablated["headers"]
    assert isinstance(full_headers, dict)
    assert isinstance(ablated_headers, dict)
    assert set(full_headers) - set(ablated_headers) == gone


async def test_no_middleware_answers_with_the_apps_own_headers_only() -> None:
    answered = await _get(build(_variant(NO_MIDDLEWARE), None))

    headers = answered["headers"]
    assert isinstance(headers, dict)
    assert set(headers) == {"content-length", "content-type"}


def test_every_middleware_option_a_variant_sets_is_one_the_layers_take() -> None:
    # A typo in an option would make a variant measure the full stack again.
    for variant in [*stack_variants(), *otlp_variants()]:
        if variant.bare or variant.otlp_endpoint:
            continue
        build(variant, None).build_middleware_stack()


COSTS = {
    FULL: 120.0,
    "minus tracing": 110.0,
    "minus request id": 117.0,
    "minus access log": 111.0,
    "minus metrics": 116.0,
    "minus security headers": 118.0,
    "minus rate limit": 113.0,
    "minus request limits": 119.0,
    "minus error guard": 120.0,
    "minus body limit": 119.5,
    NO_MIDDLEWARE: 65.0,
    BARE: 50.0,
}


def test_the_stack_rows_account_for_all_of_full_minus_bare() -> None:
    rows = {row.label: row for row in stack_rows(COSTS, stack_variants())}

    assert sum(row.us_per_request for row in rows.values()) == pytest.approx(70.0)
    assert sum(row.share for row in rows.values()) == pytest.approx(1.0)
    assert rows[APP_ITSELF].us_per_request == pytest.approx(15.0)
    assert rows["tracing (server span, traceresponse)"].us_per_request == pytest.approx(10.0)
    # 55 us between full and no middleware, 36.5 of it the features: 18.5 us is the layers..
    assert rows[LAYERS].us_per_request == pytest.approx(18.5)
    costs = [row.us_per_request for row in rows.values()]
    assert costs == sorted(costs, reverse=True)


def test_the_otlp_rows_are_the_steps_between_consecutive_variants() -> None:
    costs = {
        OTLP_BASE: 100.0,
        "+ recording": 118.0,
        "+ batch processor": 120.0,
        "+ protobuf encode": 150.0,
        "+ OTLP/HTTP send": 160.0,
    }

    rows = otlp_rows(costs, otlp_variants())

    assert [row.us_per_request for row in rows] == pytest.approx([18.0, 2.0, 30.0, 10.0])
    assert sum(row.share for row in rows) == pytest.approx(1.0)
    assert rows[0].label == "SDK span recording"


def test_the_report_is_json_with_both_breakdowns_and_the_ratios() -> None:
    otlp = {
        OTLP_BASE: 100.0,
        "+ recording": 118.0,
        "+ batch processor": 120.0,
        "+ protobuf encode": 150.0,
        "+ OTLP/HTTP send": 165.0,
    }

    document = json.loads(
        json.dumps(
            report(
                COSTS,
                otlp,
                stack_list=stack_variants(),
                otlp_list=otlp_variants(),
                settings={"rounds": 1},
            )
        )
    )

    assert document["unit"] == "us/req"
    assert document["stack"]["ratio_bare_to_full"] == pytest.approx(50 / 120, abs=1e-4)
    assert document["stack"]["us_per_request"][FULL] == 120.0
    assert document["otlp"]["cost_ratio"] == pytest.approx(1.65)
    assert [row["part"] for row in document["otlp"]["rows"]][-1].startswith("OTLP/HTTP send")


def test_the_table_lines_up_labels_costs_and_shares() -> None:
    text = format_rows("title", [Row("access log", 9.44, 0.25)], [("= total", 37.8)])

    lines = text.splitlines()
    assert lines[0].split() == ["title", "us/req", "share"]
    assert lines[1].split() == ["access", "log", "9.4", "25.0%"]
    assert lines[2].split() == ["=", "total", "37.8"]
    assert len({len(line.rstrip()) for line in lines[:2]}) == 1


def test_callgrind_totals_and_the_per_request_difference() -> None:
    dump = "version: 1\ncmd: python\nevents: Ir\nfl=(1) x.c\n0 5\nsummary: 123456\ntotals: 123456\n"

    assert callgrind_total(dump) == 123456
    assert instructions_per_request(1_000_000, 1_800_000, 100) == 8000.0
    with pytest.raises(ValueError, match="totals"):
        callgrind_total("events: Ir\n")


def test_breakdown_options_are_parsed() -> None:
    args = parse_args(["--breakdown", "--breakdown-rounds", "3", "--bsp-schedule-delay-ms", "100"])

    assert args.breakdown
    assert args.breakdown_rounds == 3
    assert not args.callgrind
    assert batch_options(args) == {"schedule_delay_millis": 100}
    assert batch_options(parse_args([])) == {}


def test_a_tiny_real_run_measures_every_variant_and_exports_every_span(tmp_path: Path) -> None:
    # No receiver: the OTLP variants that only record, batch and encode need none.
    otlp = otlp_variants()[:-1]
    stack = asyncio.run(breakdown.measure(stack_variants(), requests=20, rounds=1))
    exported = asyncio.run(measure(otlp, requests=20, rounds=1))

    assert set(stack) == {v.name for v in stack_variants()}
    assert all(cost > 0 for cost in [*stack.values(), *exported.values()])
    rows = stack_rows(stack, stack_variants())
    assert sum(row.us_per_request for row in rows) == pytest.approx(stack[FULL] - stack[BARE])
    out = tmp_path / "breakdown.json"
    out.write_text(
        json.dumps(
            report(stack, exported, stack_list=stack_variants(), otlp_list=otlp, settings={})
        )
    )
    assert json.loads(out.read_text())["otlp"]["rows"][0]["part"] == "SDK span recording"
