"""The wrk script of the latency benchmark: PUTs at a fixed total rate.

wrk has no rate option (wrk2 has); its `delay()` hook returns how long to wait before a
connection's next request. The connections of a wrk thread share one Lua state, so the script
hands out slots of one schedule, request n at `start + n / rate` on CLOCK_MONOTONIC (read
through LuaJIT's FFI, which wrk is built with), to whichever connection asks next: the total
rate is `rate` however many connections share it, and a slow response is caught up on instead
of slowing the whole run down (as long as a connection is free). Every PUT replaces one of
`contexts` contexts with a body no earlier request had, so every write appends a version and
publishes one event. The done() hook of
`slipway_bench.wrk` reports the counts and the PUT latencies. `limited_pacing_script` sends
a given number of requests in all (the search benchmark's lag writes, each a new context).
"""

import json
import re
from pathlib import Path

from slipway_bench.wrk import WrkResult, parse_wrk_output, render_script, write_script, wrk_output

STATUS_MARKER = "SLIPWAY_LATENCY_STATUSES "

_SAFE = re.compile(r"^[A-Za-z0-9._:-]+$")

_PACING = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } slipway_timespec;
int clock_gettime(int clk_id, slipway_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now_ts = ffi.new("slipway_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_ts)
  return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
end

local interval_ms = 1000 / @RATE@
local started_ms = nil
local scheduled = 0
local sent = 0
local headers = {
  ["Authorization"] = "Bearer @TOKEN@",
  ["Content-Type"] = "application/json",
}

delay = function()
  local now = now_ms()
  if started_ms == nil then started_ms = now end
  local wait = started_ms + scheduled * interval_ms - now
  scheduled = scheduled + 1
  if wait < 0 then return 0 end
  return wait
end

request = function()
  sent = sent + 1
  local path = string.format("/v1/contexts/@NAMESPACE@/c%d", sent % @CONTEXTS@)
  local body = string.format(
    '{"kind":"document","body":{"content":"latency write %d of run @NONCE@","format":"markdown"},'
    .. '"acl":{"readers":["group:@GROUP@"],"writers":[]}}', sent)
  return wrk.format("PUT", path, headers, body)
end

-- Status codes per wrk thread (each has its own Lua state), summed by done() below.
statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
"""

# After DONE_SCRIPT: its done() first, then one line with the status counts of all threads.
_STATUS_DONE = """
local report_done = done
done = function(summary, latency, requests)
  report_done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  io.write("MARKER{" .. table.concat(parts, ",") .. "}\\n")
end
""".replace("MARKER", STATUS_MARKER)


def pacing_script(
    *, rate: float, namespace: str, token: str, group: str, nonce: str, contexts: int = 64
) -> str:
    """The Lua source: paced, unique PUTs readable by `group`, plus the done() report."""
    if rate <= 0 or contexts < 1:
        raise ValueError("rate must be > 0 and contexts >= 1")
    named = {"namespace": namespace, "token": token, "group": group, "nonce": nonce}
    for name, value in named.items():
        if not _SAFE.match(value):
            raise ValueError(f"{name} {value!r} has characters the Lua script cannot carry")
    values = {
        "RATE": repr(float(rate)),
        "CONTEXTS": str(contexts),
        "NAMESPACE": namespace,
        "TOKEN": token,
        "GROUP": group,
        "NONCE": nonce,
    }
    return render_script(_PACING, values) + _STATUS_DONE


# After a `pacing_script`: at most LIMIT requests (per wrk thread), then every delay() parks
# its connection (about 11 days). The LIMITth response stops the thread's event loop: its
# parked connections, idle, would otherwise see the server close them (wrk: read errors).
# wrk itself exits at its --duration; long enough, no request is left in flight then.
_LIMIT = """
local paced_delay = delay
local allowed = @LIMIT@
delay = function()
  if allowed <= 0 then return 1e9 end
  allowed = allowed - 1
  return paced_delay()
end
local counted_response = response
local responses = 0
response = function(status, headers, body)
  counted_response(status, headers, body)
  responses = responses + 1
  if responses >= @LIMIT@ then wrk.thread:stop() end
end
"""


def limited_pacing_script(
    *, rate: float, limit: int, namespace: str, token: str, group: str, nonce: str, contexts: int
) -> str:
    """`pacing_script` sending `limit` requests in all (one wrk thread), then stopping."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    paced = pacing_script(
        rate=rate, namespace=namespace, token=token, group=group, nonce=nonce, contexts=contexts
    )
    return paced + _LIMIT.replace("@LIMIT@", str(limit))


def parse_status_counts(stdout: str) -> dict[int, int]:
    """The responses by HTTP status, from the line the script's done() printed."""
    for line in stdout.splitlines():
        if line.startswith(STATUS_MARKER):
            try:
                counts = json.loads(line.removeprefix(STATUS_MARKER))
                return {int(status): int(count) for status, count in counts.items()}
            except (ValueError, AttributeError) as exc:
                raise ValueError(f"unreadable status line: {line!r}") from exc
    raise ValueError("wrk printed no status line; is the pacing script loaded?")


def write_pacing_script(
    directory: Path,
    *,
    rate: float,
    namespace: str,
    token: str,
    group: str,
    nonce: str,
    contexts: int = 64,
) -> Path:
    """Write the `pacing_script` into `directory`; its path, for `wrk --script`."""
    script = pacing_script(
        rate=rate, namespace=namespace, token=token, group=group, nonce=nonce, contexts=contexts
    )
    return write_script(directory, "slipway_events_latency", script)


def run_writes(command: list[str], *, cpu: int | None) -> tuple[WrkResult, dict[int, int]]:
    """Run wrk with a pacing script (pinned to `cpu`); its result and responses by status."""
    output = wrk_output(command, cpu=cpu)
    return parse_wrk_output(output), parse_status_counts(output)
