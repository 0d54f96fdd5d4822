"""The example's log lines: JSON, with the request's id and the caller's trace id."""

import httpx

from slipway.web.example.tests.log_capture import CapturedLogs

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


async def test_log_line_carries_the_request_id(
    client: httpx.AsyncClient, logs: CapturedLogs
) -> None:
    response = await client.get("/v1/greetings/ada", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 200
    [line] = [line for line in logs.lines() if line["event"] == "greeting served"]
    assert line["request_id"] == "trace-me-1"
    assert line["greeted"] == "ada"
    assert line["service"] == "example"
    assert line["level"] == "info"


async def test_generated_request_id_is_logged(
    client: httpx.AsyncClient, logs: CapturedLogs
) -> None:
    response = await client.get("/v1/greetings/ada")
    [line] = [line for line in logs.lines() if line["event"] == "greeting served"]
    assert line["request_id"] == response.headers["x-request-id"]


async def test_incoming_traceparent_is_continued(
    client: httpx.AsyncClient, logs: CapturedLogs
) -> None:
    response = await client.get(
        "/v1/greetings/ada", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )
    assert response.status_code == 200
    [line] = [line for line in logs.lines() if line["event"] == "greeting served"]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] not in (None, PARENT_SPAN_ID)  # the server span, a child
    assert response.headers["traceresponse"].startswith(f"00-{TRACE_ID}-")
