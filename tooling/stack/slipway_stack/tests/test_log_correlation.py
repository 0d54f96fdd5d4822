"""One hop, both services' logs: search's fetch from contexts and contexts' access line of it
share the request id and the trace id, and contexts' span is a child of search's.

Real processes on the real PostgreSQL and Redis (tests/harness.py), with JSON log lines (the
stack's development default is the console renderer, which leaves trace ids out). The parent
of contexts' server span is not in any log line: the second stack exports both services'
spans over OTLP/HTTP to a small collector in this test, which shows it.
"""

import gzip
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

# opentelemetry-proto comes with opentelemetry-exporter-otlp-proto-http (3rdparty), which the
# services bring into the sandbox; it is no requirement of its own to infer a dependency on.
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # pants: no-infer-dep
    ExportTraceServiceRequest,
)

from slipway_stack.tests.harness import RunningStack, running_stack
from slipway_stack.tests.test_end_to_end import (
    NAMESPACE,
    bearer,
    put_context,
    wait_searchable,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JSON_LOGS = {"CONTEXTS_LOG_RENDERER": "json", "SEARCH_LOG_RENDERER": "json"}
FETCHED_EVENT = "fetched context from contexts"
LOG_WAIT_SECONDS = 10.0
HEX = set("0123456789abcdef")


def json_lines(stack: RunningStack, name: str) -> list[dict[str, Any]]:
    """Every JSON object line of `name`'s log (the harness's `--- start n ---` lines aside)."""
    lines = []
    for raw in stack.log_path(name).read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict):
                lines.append(value)
    return lines


def wait_for_line(
    stack: RunningStack, name: str, matches: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first line of `name`'s log that `matches`, waiting for it to be written."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        found = [line for line in json_lines(stack, name) if matches(line)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching line in {name}'s log\n{stack.logs(12000)}")
        time.sleep(0.1)


def is_hex_id(value: Any, length: int) -> bool:
    """Whether `value` is a lower-case hex id of `length` characters, not all zeros."""
    return (
        isinstance(value, str)
        and len(value) == length
        and set(value) <= HEX
        and value != "0" * length
    )


async def write_and_wait_fetched(stack: RunningStack, word: str, name: str) -> None:
    """Write context `name` in contexts and wait until search has indexed it (so fetched it)."""
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        response = await put_context(client, stack, token, name, f"about {word}")
        assert response.status_code in (200, 201), response.text
        await wait_searchable(client, stack, token, word, name, timeout_seconds=15)


def the_hop(stack: RunningStack, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """search's line of its fetch of context `name` and contexts' access line of that fetch
    (the one with the request id search's line has: search sent it)."""
    ref = f"{NAMESPACE}/{name}"
    fetched = wait_for_line(
        stack,
        "search",
        lambda line: line.get("event") == FETCHED_EVENT and line.get("context") == ref,
    )
    request_id = fetched.get("request_id")
    assert isinstance(request_id, str), fetched
    assert request_id, fetched
    path = f"/v1/contexts/{NAMESPACE}/{name}"
    gets = [
        line
        for line in json_lines(stack, "contexts")
        if line.get("logger") == "slipway.access"
        and line.get("method") == "GET"
        and line.get("path") == path
    ]
    assert gets, f"contexts logged no GET {path}\n{stack.logs(12000)}"
    same_request = [line for line in gets if line.get("request_id") == request_id]
    assert same_request, (
        f"search's fetch had request id {request_id}; contexts' lines of GET {path} have "
        f"{[line.get('request_id') for line in gets]}"
    )
    return fetched, same_request[0]


async def assert_a_users_trace_reaches_searchs_access_line(stack: RunningStack) -> None:
    """A user's `traceparent` and `X-Request-ID` are search's access line's trace and request id."""
    trace_id = os.urandom(16).hex()
    parent_span_id = os.urandom(8).hex()
    request_id = f"user-{uuid.uuid4().hex}"
    probe = f"probe{uuid.uuid4().hex[:8]}"  # this request's access line, among the others
    token = await stack.user_token()
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        response = await client.get(
            f"{stack.config.search_url}/v1/search",
            params={"q": probe, "namespace": NAMESPACE},
            headers={
                **bearer(token),
                "traceparent": f"00-{trace_id}-{parent_span_id}-01",
                "x-request-id": request_id,
            },
        )
    assert response.status_code == 200, response.text
    access = wait_for_line(
        stack,
        "search",
        lambda line: (
            line.get("logger") == "slipway.access" and f"q={probe}" in str(line.get("event", ""))
        ),
    )
    assert response.headers["x-request-id"] == request_id
    assert access["request_id"] == request_id, access
    assert access["trace_id"] == trace_id, access
    assert is_hex_id(access["span_id"], 16), access
    assert access["span_id"] != parent_span_id, access
    assert response.headers["traceresponse"].split("-")[1] == trace_id


class SpanCollector:
    """An OTLP/HTTP traces endpoint (protobuf) on a free port, keeping every span it gets."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.add(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, body: bytes) -> None:
        """Keep the spans of one export request."""
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "service": attributes.get("service.name"),
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                            }
                        )

    def find(self, **wanted: str) -> dict[str, Any]:
        """The first span with these fields, waiting for its export."""
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            with self._lock:
                for span in self.spans:
                    if all(span.get(key) == value for key, value in wanted.items()):
                        return span
                seen = list(self.spans)
            if time.monotonic() > deadline:
                raise AssertionError(f"no exported span with {wanted}; got {seen}")
            time.sleep(0.1)

    @contextmanager
    def serving(self) -> Iterator["SpanCollector"]:
        """Serve on a thread until the block ends."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)


async def test_one_hop_is_one_trace_with_one_request_id_in_both_services_logs(
    tmp_path: Path,
) -> None:
    """search's fetch of a context from contexts: the same request id and trace id in both
    services' log lines, contexts' span a child of search's; and a user's trace reaches search.
    One stack for all of it (each start costs seconds): JSON logs, spans to a collector."""
    with SpanCollector().serving() as collector:
        exporting = {
            **JSON_LOGS,
            "CONTEXTS_OBSERVABILITY__OTLP_ENDPOINT": collector.url,
            "SEARCH_OBSERVABILITY__OTLP_ENDPOINT": collector.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: export spans at once
        }
        async with running_stack(tmp_path, exporting) as stack:
            word = f"egret{uuid.uuid4().hex[:8]}"
            await write_and_wait_fetched(stack, word, "parented")
            fetched, access = the_hop(stack, "parented")
            server = collector.find(service="contexts", span_id=access["span_id"])
            logs = stack.logs(12000)
            await assert_a_users_trace_reaches_searchs_access_line(stack)
    assert fetched["service"] == "search", fetched
    assert access["service"] == "contexts", access
    assert access["status_code"] == 200, access
    assert is_hex_id(fetched["trace_id"], 32), fetched
    assert is_hex_id(fetched["span_id"], 16), fetched
    assert is_hex_id(access["span_id"], 16), access
    # One trace across the hop: contexts continued search's (W3C traceparent), in a span
    # of its own.
    assert access["span_id"] != fetched["span_id"], (fetched, access)
    assert access["trace_id"] == fetched["trace_id"], (fetched, access)
    assert server["trace_id"] == fetched["trace_id"], (server, fetched)
    # contexts' span of the fetch has, as parent, the span search sent in its traceparent:
    # a span of search's, in the same trace, ancestor of (or) the one search's line names.
    parent = collector.find(service="search", span_id=server["parent_span_id"])
    assert parent["trace_id"] == fetched["trace_id"], (parent, fetched)
    ancestry = {parent["span_id"]}
    current = parent
    while current["parent_span_id"] and current["span_id"] != fetched["span_id"]:
        current = collector.find(service="search", span_id=current["parent_span_id"])
        ancestry.add(current["span_id"])
    assert fetched["span_id"] in ancestry, (fetched, parent, collector.spans, logs)
