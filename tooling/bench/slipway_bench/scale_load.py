"""The scale benchmark's operations: wrk Lua scripts over the whole seeded range, and the table.

GET and PUT pick a uniformly random context of the `size` seeded (`c0000000` ..), so the
working set is the whole table, not a hot few; LIST reads the first page (limit 50), LIST_DEEP
the page after the middle context (a keyset cursor); the DEEP_* operations work on one context
with `versions` versions: its current version, a random old version, the whole version list,
and PUTs appending to it.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contexts.domain.cursor import encode_cursor, query_fingerprint
from slipway_bench.contexts_bench import Measurement, ratio
from slipway_bench.scale_seed import NAME_DIGITS, context_name
from slipway_bench.wrk import render_script, write_script

NAMESPACE = "scale"
HISTORY_NAMESPACE = "history"
PAGE_SIZE = 50
READS = ("GET", "LIST", "LIST_DEEP", "DEEP_GET", "DEEP_VERSION", "DEEP_VERSIONS")
WRITES = ("PUT", "DEEP_PUT")
OPERATIONS = READS + WRITES
"""The run order: reads first, then the writes (they grow the tables a little)."""

TEMPLATE = {
    "kind": "document",
    "body": {"content": "# Runbook\n\nseeded for the scale benchmark", "format": "markdown"},
    "labels": {"team": "bench", "tier": "scale"},
}
"""The content every seeded context is a copy of (written by one real PUT)."""

_SAFE = re.compile(r"^[A-Za-z0-9._:=-]+$")

_HEAD = """
local counter = 0
local headers = {
  ["Authorization"] = "Bearer @TOKEN@",
  ["Content-Type"] = "application/json",
}
init = function(args)
  math.randomseed(os.time() + @SEED@)
end
local function random_name()
  return string.format("c%0@DIGITS@d", math.random(0, @SIZE@ - 1))
end
-- PUTs leave c0000000 alone: it is the template the next size's seeding copies.
local function random_written_name()
  return string.format("c%0@DIGITS@d", math.random(1, @SIZE@ - 1))
end
local function body()
  counter = counter + 1
  return string.format(
    '{"kind":"document","body":{"content":"# Runbook\\\\n\\\\nput %d of run @NONCE@",'
    .. '"format":"markdown"},"labels":{"team":"bench","run":"@NONCE@"}}', counter)
end
"""

_REQUESTS = {
    "GET": 'return wrk.format("GET", "/v1/contexts/@NS@/" .. random_name(), headers)',
    "PUT": 'return wrk.format("PUT", "/v1/contexts/@NS@/" .. random_written_name(),'
    " headers, body())",
    "LIST": 'return wrk.format("GET", "/v1/contexts/@NS@?limit=@PAGE@", headers)',
    "LIST_DEEP": 'return wrk.format("GET", "/v1/contexts/@NS@?limit=@PAGE@&cursor=@CURSOR@",'
    " headers)",
    "DEEP_GET": 'return wrk.format("GET", "/v1/contexts/@HNS@/@DEEP@", headers)',
    "DEEP_VERSION": 'return wrk.format("GET", "/v1/contexts/@HNS@/@DEEP@/versions/"'
    " .. math.random(1, @VERSIONS@), headers)",
    "DEEP_VERSIONS": 'return wrk.format("GET", "/v1/contexts/@HNS@/@DEEP@/versions", headers)',
    "DEEP_PUT": 'return wrk.format("PUT", "/v1/contexts/@HNS@/@DEEP@", headers, body())',
}


def deep_name(size: int) -> str:
    """The long-history context measured at `size` (a fresh one per size: see contexts_scale)."""
    return f"deep{size}"


def deep_cursor(size: int) -> str:
    """The cursor of the page after the middle seeded context, as the service issues it."""
    return encode_cursor(context_name(size // 2), query_fingerprint(NAMESPACE, None, None))


def load_script(
    operation: str, *, size: int, versions: int, token: str, nonce: str, seed: int = 0
) -> str:
    """The Lua source driving `operation` at `size`, plus the done() report."""
    if operation not in _REQUESTS:
        raise ValueError(f"unknown operation {operation!r}")
    if size < 1 or versions < 1:
        raise ValueError("size and versions must be >= 1")
    for name, value in {"token": token, "nonce": nonce}.items():
        if not _SAFE.match(value):
            raise ValueError(f"{name} {value!r} has characters the Lua script cannot carry")
    values = {
        "TOKEN": token,
        "NONCE": nonce,
        "SEED": str(seed),
        "DIGITS": str(NAME_DIGITS),
        "SIZE": str(size),
        "NS": NAMESPACE,
        "HNS": HISTORY_NAMESPACE,
        "DEEP": deep_name(size),
        "VERSIONS": str(versions),
        "PAGE": str(PAGE_SIZE),
        "CURSOR": deep_cursor(size),
    }
    request = "request = function()\n  " + _REQUESTS[operation] + "\nend\n"
    return render_script(_HEAD + request, values)


def write_load_script(directory: Path, operation: str, **values: Any) -> Path:
    """Write `load_script(operation, ...)` into `directory`; its path, for `wrk --script`."""
    return write_script(
        directory, f"slipway_scale_{operation.lower()}", load_script(operation, **values)
    )


def growth(m: Measurement, first: Measurement | None) -> dict[str, float | None]:
    """`m` as multiples of the same operation at the smallest size."""
    if first is None:
        return {"throughput": None, "p50": None, "p99": None}
    values = {
        "throughput": ratio(m.wrk.requests_per_second, first.wrk.requests_per_second),
        "p50": ratio(m.wrk.p50_ms, first.wrk.p50_ms),
        "p99": ratio(m.wrk.p99_ms, first.wrk.p99_ms),
    }
    return {k: None if v is None else round(v, 3) for k, v in values.items()}


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def format_table(results: Mapping[tuple[int, str], Measurement], sizes: Sequence[int]) -> str:
    """operation x size: req/s, p50, p99, errors, CPU us/req, and the ratios to the first size."""
    lines = [
        f"{'op':<14}{'size':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'cpu us':>8}{'x req/s':>9}{'x p99':>8}"
    ]
    for operation in OPERATIONS:
        first = results.get((sizes[0], operation))
        for size in sizes:
            m = results.get((size, operation))
            if m is None:
                continue
            g = growth(m, first)
            cpu = m.cpu_us_per_request
            lines.append(
                f"{operation:<14}{size:>9}{m.wrk.requests_per_second:>9.0f}{m.wrk.p50_ms:>9.2f}"
                f"{m.wrk.p99_ms:>9.2f}{m.wrk.error_count:>8}"
                f"{'n/a' if cpu is None else f'{cpu:.0f}':>8}"
                f"{_x(g['throughput']):>9}{_x(g['p99']):>8}"
                + ("  no request completed" if m.wrk.requests == 0 else "")
            )
    return "\n".join(lines)
