"""Where every microsecond of the platform stack goes: its cost per feature, by ablation.

`./pants run tooling/bench:overhead -- --breakdown` builds, in this process, the overhead
benchmark's platform app ("full": every feature on) and the same app with one feature left out
at a time (the server span, the request id, the access line, the metrics, the security headers;
the URL/header limits, the error guard, the rate limiter, the body limit), the app with no
middleware at all, and the bare FastAPI app. It drives each ASGI callable with the GET the wrk
runs send, interleaving the variants round by round, and keeps each one's best round (CPU time
of the whole process, so the span exporter's thread counts too). A feature's cost is what
leaving it out saves: `full - minus feature`.

The table accounts for the whole difference between the platform and bare:

    full - bare = (no middleware - bare)            create_app's app itself (routing, problem
                                                    handlers, ORJSONResponse, dependencies)
                + sum of the features               each feature's own work
                + (full - no middleware - features) the layers themselves: coroutine calls,
                                                    `send` wrappers, header passes (residual)

The OTLP part does the same with an exporter configured, splitting what recording and exporting
every span costs on top of "full": the SDK's recording (a span processor that drops every span),
the BatchSpanProcessor's queue and worker thread (an exporter that drops every batch), the
protobuf encoding (an exporter that encodes and drops), and the OTLP/HTTP send to a local
receiver (the real exporter, what `otlp_endpoint` configures). Each timed round ends with
`force_flush()`, so every span it recorded is exported inside the round.
"""

import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from slipway.logging import configure_logging
from slipway.observability.tracing import DEFAULT_TRACE_EXCLUDED_PATHS, disable_native_telemetry
from slipway.web.guard import RequestGuardMiddleware
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway_bench.apps import bare_app, platform_app, platform_settings
from slipway_bench.inprocess import REQUEST, SCOPE
from slipway_bench.server import child_pythonpath

REQUEST_PATH: str = SCOPE["path"]
MAX_OTLP_COST_RATIO = 1.1  # issue 13: an exporter makes the platform at most 10 % slower
FULL = "full"
BARE = "bare"
NO_MIDDLEWARE = "no middleware"
OTLP_BASE = "full (OTLP run)"
APP_ITSELF = "create_app's app (routing, problems, responses)"
LAYERS = "the layers themselves (calls, send wrappers, header passes)"

UNIT_US = "us/req"
UNIT_KIR = "kIr/req"
"""Thousands of instructions per request, as callgrind counts them (`--callgrind`)."""

Mutation = Callable[[FastAPI], None]


@dataclass(frozen=True)
class Variant:
    """One app to measure: the platform app changed by `mutate` before its first request."""

    name: str
    feature: str | None = None  # the feature this variant leaves out
    mutate: Mutation | None = None
    bare: bool = False
    otlp_endpoint: bool = False  # built with the real OTLP/HTTP exporter to the receiver


def _kwargs_of(app: FastAPI, cls: type) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        m.kwargs for m in app.user_middleware if getattr(m, "cls", None) is cls
    ]
    if cls is RequestGuardMiddleware:
        # The guard fused into the platform layer: its options are the layer's `request_guard`.
        for layer in _kwargs_of(app, PlatformLayerMiddleware):
            if layer.get("request_guard"):
                entries.append(layer["request_guard"])
    if not entries:
        raise LookupError(f"{cls.__name__} is not in the app's middleware")
    return entries


def _set(cls: type, **options: Any) -> Mutation:
    def mutate(app: FastAPI) -> None:
        for kwargs in _kwargs_of(app, cls):
            kwargs.update(options)

    return mutate


def _drop(cls: type, *names: str) -> Mutation:
    def mutate(app: FastAPI) -> None:
        for kwargs in _kwargs_of(app, cls):
            for name in list(kwargs):
                if name in names or any(name.startswith(n + "_") for n in names):
                    del kwargs[name]

    return mutate


def _without(*classes: type) -> Mutation:
    def mutate(app: FastAPI) -> None:
        app.user_middleware[:] = [
            m for m in app.user_middleware if getattr(m, "cls", None) not in classes
        ]

    return mutate


def feature_variants() -> list[Variant]:
    """The platform app with each of its per-request features left out, one at a time."""
    layer, guard = PlatformLayerMiddleware, RequestGuardMiddleware
    return [
        Variant(
            "minus tracing",
            "tracing (server span, traceresponse)",
            _set(layer, trace_excluded_paths=(*DEFAULT_TRACE_EXCLUDED_PATHS, REQUEST_PATH)),
        ),
        Variant("minus request id", "request id", _set(layer, request_id_header=None)),
        Variant(
            "minus access log",
            "access log (JSON line)",
            _set(layer, access_excluded_paths=(REQUEST_PATH,)),
        ),
        Variant(
            "minus metrics",
            "metrics (counter, histogram, gauge)",
            _set(layer, metrics_excluded_paths=("/metrics", REQUEST_PATH)),
        ),
        Variant("minus security headers", "security headers", _set(layer, security_headers=False)),
        Variant("minus rate limit", "rate limit (memory GCRA)", _drop(guard, "rate_limit")),
        Variant(
            "minus request limits",
            "URL/header limits (414/431)",
            _set(guard, max_url_bytes=None, max_header_bytes=None),
        ),
        Variant(
            "minus error guard", "unhandled-error guard (500)", _set(guard, unhandled_errors=False)
        ),
        Variant("minus body limit", "body limit (413)", _set(guard, max_body_bytes=None)),
    ]


def stack_variants() -> list[Variant]:
    """Every variant of the stack breakdown: full, one feature off each, no middleware, bare."""
    return [
        Variant(FULL),
        *feature_variants(),
        Variant(NO_MIDDLEWARE, mutate=_without(PlatformLayerMiddleware, RequestGuardMiddleware)),
        Variant(BARE, bare=True),
    ]


# ---------------------------------------------------------------------------------------------
# The OTLP variants: span processors added to the full app's own provider.


class DroppingProcessor(SpanProcessor):
    """Receives every ended span and keeps none: what the SDK's recording alone costs."""

    def on_end(self, span: ReadableSpan) -> None:
        """Drop the span."""


class DroppingExporter(SpanExporter):
    """Takes every batch and does nothing with it: the batch processor's own cost."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Accept the batch."""
        return SpanExportResult.SUCCESS


class EncodingExporter(SpanExporter):
    """Encodes every batch as the OTLP exporter does (protobuf bytes), then drops it."""

    def __init__(self) -> None:
        self.encoded_bytes = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Serialise the batch; count its size."""
        self.encoded_bytes += len(encode_spans(spans).SerializePartialToString())
        return SpanExportResult.SUCCESS


def provider_of(app: FastAPI) -> TracerProvider:
    """The SDK provider the platform layer of `app` traces with."""
    provider = _kwargs_of(app, PlatformLayerMiddleware)[0].get("tracer_provider")
    if not isinstance(provider, TracerProvider):
        raise LookupError("the app's platform layer has no SDK tracer provider")
    return provider


def _with_processor(make: Callable[[], SpanProcessor]) -> Mutation:
    def mutate(app: FastAPI) -> None:
        provider_of(app).add_span_processor(make())

    return mutate


def otlp_variants(batch_options: Mapping[str, int] | None = None) -> list[Variant]:
    """full, then recording, batching, encoding and sending added one step at a time.

    `batch_options` go to every BatchSpanProcessor (`schedule_delay_millis`,
    `max_export_batch_size`, `max_queue_size`); the real exporter's variant reads the same
    settings from the `OTEL_BSP_*` environment variables `run_breakdown` sets.
    """
    options: dict[str, Any] = dict(batch_options or {})
    return [
        Variant(OTLP_BASE),
        Variant("+ recording", "SDK span recording", _with_processor(DroppingProcessor)),
        Variant(
            "+ batch processor",
            "BatchSpanProcessor queue + worker thread",
            _with_processor(lambda: BatchSpanProcessor(DroppingExporter(), **options)),
        ),
        Variant(
            "+ protobuf encode",
            "OTLP protobuf encoding",
            _with_processor(lambda: BatchSpanProcessor(EncodingExporter(), **options)),
        ),
        Variant(
            "+ OTLP/HTTP send", "OTLP/HTTP send (requests, to a local receiver)", otlp_endpoint=True
        ),
    ]


_BSP_ENV = {
    "schedule_delay_millis": "OTEL_BSP_SCHEDULE_DELAY",
    "max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
}


# ---------------------------------------------------------------------------------------------
# Measuring.


async def _receive() -> dict[str, Any]:
    return REQUEST


async def _send(_message: Any) -> None:
    return None


@dataclass
class _Subject:
    variant: Variant
    app: FastAPI
    providers: list[TracerProvider] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)


def build(variant: Variant, otlp_endpoint: str | None, sample_ratio: float = 1.0) -> FastAPI:
    """The app of `variant`, ready for its first request."""
    if variant.bare:
        # The wrk runs serve bare in a process with no SDK provider, where FastAPI's native
        # telemetry stays off; here the platform apps have set one, so switch it off alike.
        app = bare_app()
        disable_native_telemetry(app)
        return app
    settings, web = platform_settings("127.0.0.1", 8000)
    app = platform_app(
        settings,
        web,
        otlp_endpoint=otlp_endpoint if variant.otlp_endpoint else None,
        sample_ratio=sample_ratio,
    )
    if variant.otlp_endpoint and not otlp_endpoint:
        raise ValueError(f"{variant.name} needs the OTLP receiver's URL")
    if variant.mutate is not None:
        variant.mutate(app)
    return app


async def _round(subject: _Subject, requests: int) -> float:
    app = subject.app
    start = time.process_time()
    for _ in range(requests):
        await app({**SCOPE, "headers": list(SCOPE["headers"])}, _receive, _send)
    for provider in subject.providers:
        provider.force_flush()
    return (time.process_time() - start) / requests * 1e6


def _providers(app: FastAPI) -> list[TracerProvider]:
    given = [m.kwargs.get("tracer_provider") for m in app.user_middleware]
    return [p for p in given if isinstance(p, TracerProvider)]


async def measure(
    variants: Sequence[Variant],
    requests: int,
    rounds: int,
    *,
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
) -> dict[str, float]:
    """Best CPU us per request of each variant over `rounds` interleaved rounds."""
    subjects = [
        _Subject(variant, build(variant, otlp_endpoint, sample_ratio)) for variant in variants
    ]
    async with AsyncExitStack() as stack:
        for subject in subjects:
            await stack.enter_async_context(subject.app.router.lifespan_context(subject.app))
            subject.providers = _providers(subject.app)
            await _round(subject, min(requests, 500))  # warm-up: caches, label children
        gc.collect()
        gc.freeze()  # as DrainingServer does after start-up
        for _ in range(rounds):
            for subject in subjects:
                subject.rounds.append(await _round(subject, requests))
    return {subject.variant.name: min(subject.rounds) for subject in subjects}


# ---------------------------------------------------------------------------------------------
# Instruction counts: each variant in its own process under valgrind's callgrind.
#
# The child starts with instrumentation off (imports and start-up run at valgrind's plain
# speed), warms the app up, then switches callgrind on and times two windows of N and 2N
# requests, dumping (and zeroing) the counters after each: (Ir(2N) - Ir(N)) / N is the
# instructions per request, free of the start-up and of the callgrind_control calls.
# Instruction counts do not depend on what else the machine runs.

CALLGRIND_MISSING = "valgrind not found: install it with `apt-get install valgrind`"
_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def callgrind_total(text: str) -> int:
    """The instruction count (Ir) of one callgrind dump file."""
    match = _TOTALS.search(text)
    if match is None:
        raise ValueError("no totals/summary line in the callgrind output")
    return int(match.group(1))


def instructions_per_request(ir_n: int, ir_2n: int, requests: int) -> float:
    """Instructions per request from the N and 2N windows' counts."""
    return (ir_2n - ir_n) / requests


def callgrind_control(pid: int, *options: str) -> None:
    """Run `callgrind_control` with `options` on the process `pid` (running under callgrind)."""
    subprocess.run(  # noqa: S603 - valgrind's own tool, fixed arguments
        ["callgrind_control", *options, str(pid)],  # noqa: S607
        check=True,
        capture_output=True,
    )


async def _child(
    variant: Variant, requests: int, otlp_endpoint: str | None, sample_ratio: float
) -> None:
    subject = _Subject(variant, build(variant, otlp_endpoint, sample_ratio))
    async with subject.app.router.lifespan_context(subject.app):
        subject.providers = _providers(subject.app)
        await _round(subject, 300)
        gc.collect()
        gc.freeze()
        callgrind_control(os.getpid(), "--instr=on")
        callgrind_control(os.getpid(), "--zero")
        await _round(subject, requests)
        callgrind_control(os.getpid(), "--dump=n")
        await _round(subject, 2 * requests)
        callgrind_control(os.getpid(), "--dump=2n")
        callgrind_control(os.getpid(), "--instr=off")


def all_variants() -> dict[str, Variant]:
    """Every variant of both breakdowns, by name."""
    return {v.name: v for v in (*stack_variants(), *otlp_variants())}


def child_main(argv: Sequence[str]) -> None:
    """`python -m slipway_bench.breakdown VARIANT REQUESTS RATIO [OTLP_URL]` under callgrind."""
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as logging
    configure_logging(service="bench", version="bench", environment="production", stream=devnull)
    endpoint = argv[3] if len(argv) > 3 else None
    asyncio.run(_child(all_variants()[argv[0]], int(argv[1]), endpoint, float(argv[2])))


def _dump_name(name: str, sample_ratio: float) -> str:
    return f"cg-{abs(hash((name, sample_ratio)))}.out"


def callgrind_variant(
    name: str, requests: int, workdir: Path, otlp_endpoint: str | None, sample_ratio: float = 1.0
) -> subprocess.Popen[bytes]:
    """Start the callgrind child of variant `name`; its dumps go to `workdir`."""
    out = workdir / _dump_name(name, sample_ratio)
    args = [name, str(requests), str(sample_ratio), *([otlp_endpoint] if otlp_endpoint else [])]
    return subprocess.Popen(  # noqa: S603 - our interpreter under valgrind
        callgrind_command(out, __name__, args),
        env=callgrind_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def callgrind_command(out: Path, module: str, args: Sequence[str]) -> list[str]:
    """`python -m module args` under callgrind, instrumentation off, dumps named after `out`."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        os.path.realpath(sys.executable),
        "-m",
        module,
        *args,
    ]


def callgrind_env() -> dict[str, str]:
    """The environment of a child under callgrind: this process's path, a fixed hash seed."""
    return {
        **os.environ,
        "PYTHONPATH": child_pythonpath(),
        "PYTHONHASHSEED": "0",
    }


def measure_callgrind(
    variants: Sequence[Variant],
    requests: int,
    workdir: Path,
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
) -> dict[str, float]:
    """Instructions per request of each variant, two children at a time."""
    if shutil.which("valgrind") is None:
        raise RuntimeError(CALLGRIND_MISSING)
    costs: dict[str, float] = {}
    for start in range(0, len(variants), 2):  # two children at a time: a 2-core machine
        batch = variants[start : start + 2]
        running = [
            (v, callgrind_variant(v.name, requests, workdir, otlp_endpoint, sample_ratio))
            for v in batch
        ]
        for variant, process in running:
            _, stderr = process.communicate()
            out = workdir / _dump_name(variant.name, sample_ratio)
            dumps = sorted(workdir.glob(out.name + ".*"))
            if process.returncode != 0 or len(dumps) < 2:
                tail = stderr.decode(errors="replace")[-2000:]
                raise RuntimeError(f"callgrind run of {variant.name} failed: {tail}")
            n, two_n = (callgrind_total(d.read_text(encoding="utf-8")) for d in dumps[-2:])
            costs[variant.name] = instructions_per_request(n, two_n, requests)
            print(f"  {variant.name:<24}{costs[variant.name] / 1000:>8.1f} k instructions/req")
    return costs


# ---------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: what it is, its us per request and its share of the total."""

    label: str
    us_per_request: float
    share: float


def stack_rows(costs: Mapping[str, float], variants: Sequence[Variant]) -> list[Row]:
    """The features' costs, the app itself and the layers' residual, summing to full - bare."""
    full, bare, none = costs[FULL], costs[BARE], costs[NO_MIDDLEWARE]
    total = full - bare
    features = [(v.feature, full - costs[v.name]) for v in variants if v.feature]
    residual = (full - none) - sum(cost for _, cost in features)
    parts = [(APP_ITSELF, none - bare), *features, (LAYERS, residual)]
    return [
        Row(str(label), cost, cost / total if total else 0.0)
        for label, cost in sorted(parts, key=lambda part: -part[1])
    ]


def otlp_rows(costs: Mapping[str, float], variants: Sequence[Variant]) -> list[Row]:
    """Each export step's cost over the previous variant's, summing to the exporter's cost."""
    base = costs[variants[0].name]
    total = costs[variants[-1].name] - base
    rows: list[Row] = []
    previous = base
    for variant in variants[1:]:
        cost = costs[variant.name] - previous
        rows.append(Row(str(variant.feature), cost, cost / total if total else 0.0))
        previous = costs[variant.name]
    return rows


def format_rows(
    title: str, rows: Sequence[Row], totals: Sequence[tuple[str, float]], unit: str = "us/req"
) -> str:
    """A fixed-width table: label, cost per request, share; then the totals it adds up to."""
    width = max([len(title), *(len(r.label) for r in rows), *(len(t) for t, _ in totals)]) + 2
    lines = [f"{title:<{width}}{unit:>9}{'share':>8}"]
    lines += [f"{r.label:<{width}}{r.us_per_request:>9.1f}{r.share:>8.1%}" for r in rows]
    lines += [f"{label:<{width}}{value:>9.1f}" for label, value in totals]
    return "\n".join(lines)


def report(
    stack: Mapping[str, float],
    otlp: Mapping[str, float] | None,
    *,
    stack_list: Sequence[Variant],
    otlp_list: Sequence[Variant],
    settings: Mapping[str, Any],
    unit: str = UNIT_US,
) -> dict[str, Any]:
    """The JSON document: settings, every variant's cost per request (`unit`: CPU us, or
    thousands of instructions), and both breakdowns' rows."""
    document: dict[str, Any] = {
        "settings": dict(settings),
        "unit": unit,
        "stack": {
            "us_per_request": {name: round(cost, 2) for name, cost in stack.items()},
            "ratio_bare_to_full": round(stack[BARE] / stack[FULL], 4),
            "rows": [_row_dict(r) for r in stack_rows(stack, stack_list)],
        },
    }
    if otlp is not None:
        first, last = otlp_list[0].name, otlp_list[-1].name
        document["otlp"] = {
            "us_per_request": {name: round(cost, 2) for name, cost in otlp.items()},
            "cost_ratio": round(otlp[last] / otlp[first], 4),
            "rows": [_row_dict(r) for r in otlp_rows(otlp, otlp_list)],
        }
    return document


def sweep_rows(full: float, sweep: Mapping[float, float]) -> list[dict[str, float]]:
    """Per sampling ratio: full + exporter's cost per request and its ratio to full."""
    return [
        {"sample_ratio": ratio, "cost": round(cost, 2), "cost_ratio": round(cost / full, 4)}
        for ratio, cost in sorted(sweep.items(), reverse=True)
    ]


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "part": row.label,
        "us_per_request": round(row.us_per_request, 2),
        "share": round(row.share, 4),
    }


def print_report(document: Mapping[str, Any]) -> None:
    """The tables of `report`'s document."""
    unit = document.get("unit", UNIT_US)
    stack = document["stack"]
    costs = stack["us_per_request"]
    rows = [Row(r["part"], r["us_per_request"], r["share"]) for r in stack["rows"]]
    print(
        format_rows(
            "platform stack, full - bare, by part",
            rows,
            [
                ("= full - bare", costs[FULL] - costs[BARE]),
                ("full (every feature on)", costs[FULL]),
                ("bare FastAPI", costs[BARE]),
            ],
            unit,
        )
    )
    print(f"in-process ratio bare/full (throughput, CPU-bound): {stack['ratio_bare_to_full']:.3f}")
    otlp = document.get("otlp")
    if otlp is not None:
        costs = otlp["us_per_request"]
        rows = [Row(r["part"], r["us_per_request"], r["share"]) for r in otlp["rows"]]
        names = list(costs)
        print()
        print(
            format_rows(
                "OTLP exporter, on top of full, by step",
                rows,
                [
                    ("= exporter's cost", costs[names[-1]] - costs[names[0]]),
                    ("full + OTLP exporter", costs[names[-1]]),
                ],
                unit,
            )
        )
        print(f"cost ratio full+otlp/full: {otlp['cost_ratio']:.3f} (issue 13 goal <= 1.1)")
    for row in document.get("otlp_sample_ratios", []):
        print(
            f"  OTLP at sample ratio {row['sample_ratio']:<6g} {row['cost']:>8.1f} {unit}"
            f"  cost ratio {row['cost_ratio']:.3f}"
            f"  {'MET' if row['cost_ratio'] <= MAX_OTLP_COST_RATIO else 'missed'}"
        )
    print()
    for name, cost in {
        **document["stack"]["us_per_request"],
        **(otlp or {}).get("us_per_request", {}),
    }.items():
        print(f"  {name:<24}{cost:>8.1f} {unit}")


def run_breakdown(
    requests: int,
    rounds: int,
    otlp_endpoint: str | None,
    json_out: Path,
    *,
    sample_ratio: float = 1.0,
    batch_options: Mapping[str, int] | None = None,
    callgrind: bool = False,
    sweep_ratios: Sequence[float] = (),
) -> dict[str, Any]:
    """Measure both breakdowns (the OTLP one when `otlp_endpoint`), print, write JSON.

    CPU time in this process by default; with `callgrind`, instructions per request, each
    variant in its own process under valgrind (deterministic, slower: ~15 s per variant).
    """
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as logging
    configure_logging(service="bench", version="bench", environment="production", stream=devnull)
    for option, value in (batch_options or {}).items():
        os.environ[_BSP_ENV[option]] = str(value)
    stack_list = stack_variants()
    otlp_list = otlp_variants(batch_options)
    otlp = None
    unit = UNIT_US
    sweep: dict[float, float] = {}
    if callgrind:
        unit = UNIT_KIR
        with tempfile.TemporaryDirectory(prefix="slipway-callgrind-") as tmp:
            counted = measure_callgrind(stack_list, requests, Path(tmp))
            if otlp_endpoint:
                counted.update(
                    measure_callgrind(
                        otlp_list[1:], requests, Path(tmp), otlp_endpoint, sample_ratio
                    )
                )
            for ratio in sweep_ratios if otlp_endpoint else ():
                swept = measure_callgrind(otlp_list[-1:], requests, Path(tmp), otlp_endpoint, ratio)
                sweep[ratio] = swept[otlp_list[-1].name] / 1000
        counted = {name: ir / 1000 for name, ir in counted.items()}
        stack = {v.name: counted[v.name] for v in stack_list}
        if otlp_endpoint:
            otlp = {OTLP_BASE: counted[FULL], **{v.name: counted[v.name] for v in otlp_list[1:]}}
    else:
        stack = asyncio.run(measure(stack_list, requests, rounds))
        if otlp_endpoint is not None:
            otlp = asyncio.run(
                measure(
                    otlp_list,
                    requests,
                    rounds,
                    otlp_endpoint=otlp_endpoint,
                    sample_ratio=sample_ratio,
                )
            )
            for ratio in sweep_ratios:
                swept = asyncio.run(
                    measure(
                        [otlp_list[0], otlp_list[-1]],
                        requests,
                        rounds,
                        otlp_endpoint=otlp_endpoint,
                        sample_ratio=ratio,
                    )
                )
                sweep[ratio] = swept[otlp_list[-1].name] * stack[FULL] / swept[OTLP_BASE]
    document = report(
        stack,
        otlp,
        stack_list=stack_list,
        otlp_list=otlp_list,
        settings={
            "requests_per_round": requests,
            "rounds": rounds,
            "measure": "instructions per request (callgrind, N vs 2N window)"
            if callgrind
            else "best round, CPU time of the process (all threads) per request",
            "otlp_sample_ratio": sample_ratio,
            "batch_options": dict(batch_options or {}),
        },
        unit=unit,
    )
    if sweep:
        document["otlp_sample_ratios"] = sweep_rows(stack[FULL], sweep)
    print_report(document)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"breakdown written to {json_out}")
    return document


if __name__ == "__main__":
    child_main(sys.argv[1:])
