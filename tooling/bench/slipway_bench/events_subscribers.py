"""The latency benchmark's subscribers: N SSE connections read by one asyncio process.

`python -m slipway_bench.events_subscribers --base-url URL --namespace NS --tokens FILE
--out FILE` opens one `GET /v1/events?namespace=NS` stream per token in FILE (a JSON list),
prints `ready` once every stream has answered 200 and sent its first bytes, and records, for
every `context.changed` event, its latency: the wall-clock time the chunk carrying it arrived
here minus the event's `occurred_at` (set by the service, same machine clock). On SIGTERM or
SIGINT it closes the streams and writes the per-subscriber results to `--out` as JSON.
"""

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop  # pants: no-infer-dep - installed by uvicorn[standard] (slipway_bench.server)

from slipway_bench.sse_reader import ServerSentEvent, ServerSentEventDecoder

EVENT_TYPE = "context.changed"
# The last event slipway.events.sse sends before it ends a stream, with the reason.
CLOSED_EVENT_TYPE = "stream.closed"
READY_LINE = "ready"
CONNECT_TIMEOUT_S = 30.0


class EventShapeError(ValueError):
    """An event's data is not the JSON object with `event_id` and `occurred_at` expected."""


def event_latency_ms(event: ServerSentEvent, received_at: float) -> tuple[str, float]:
    """The event's id and its latency in ms: `received_at` (epoch s) minus its `occurred_at`."""
    try:
        data = json.loads(event.data)
        occurred_at = datetime.fromisoformat(data["occurred_at"])
        event_id = str(data["event_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise EventShapeError(f"unexpected event data {event.data[:200]!r}: {exc!r}") from exc
    if occurred_at.tzinfo is None:
        raise EventShapeError(f"occurred_at has no time zone: {data['occurred_at']!r}")
    return event_id, (received_at - occurred_at.timestamp()) * 1000


@dataclass
class SubscriberRecord:
    """What one subscriber saw."""

    latencies_ms: list[float] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (unique events, repeats, latencies)."""
        return {
            "events": len(self.event_ids),
            "duplicates": self.duplicates,
            "error": self.error,
            "latencies_ms": [round(v, 3) for v in self.latencies_ms],
        }


async def follow(
    client: httpx.AsyncClient,
    namespace: str,
    token: str,
    record: SubscriberRecord,
    connected: asyncio.Queue[None],
) -> None:
    """Read one SSE stream until cancelled, recording each event's latency."""
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    announced = False
    try:
        async with client.stream(
            "GET", "/v1/events", params={"namespace": namespace}, headers=headers
        ) as response:
            if response.status_code != 200:
                body = (await response.aread()).decode(errors="replace")[:500]
                raise RuntimeError(f"GET /v1/events answered {response.status_code}: {body}")
            decoder = ServerSentEventDecoder()
            closed_because = "no reason given"
            async for chunk in response.aiter_raw():
                received_at = time.time()
                if not announced:
                    connected.put_nowait(None)
                    announced = True
                for event in decoder.feed(chunk):
                    if event.event == CLOSED_EVENT_TYPE:
                        closed_because = event.data
                    if event.event != EVENT_TYPE:
                        continue
                    event_id, latency = event_latency_ms(event, received_at)
                    if event_id in record.event_ids:
                        record.duplicates += 1
                        continue
                    record.event_ids.add(event_id)
                    record.latencies_ms.append(latency)
            raise RuntimeError(f"the server ended the event stream: {closed_because}")
    except (httpx.HTTPError, OSError, RuntimeError, EventShapeError) as exc:
        record.error = str(exc) or type(exc).__name__
        if not announced:  # never leave the start-up waiting on a dead stream
            connected.put_nowait(None)


async def run(base_url: str, namespace: str, tokens: list[str], out: Path) -> int:
    """Follow every stream until SIGTERM/SIGINT; write the results; 1 if a stream failed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    records = [SubscriberRecord() for _ in tokens]
    connected: asyncio.Queue[None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=0)
    timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=None)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        tasks = [
            asyncio.create_task(follow(client, namespace, token, record, connected))
            for token, record in zip(tokens, records, strict=True)
        ]
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                for _ in tokens:
                    await connected.get()
        except TimeoutError:
            for record in records:
                record.error = record.error or f"no answer within {CONNECT_TIMEOUT_S:.0f}s"
        failed = [r.error for r in records if r.error is not None]
        print(READY_LINE if not failed else f"failed: {failed[0]}", flush=True)
        if not failed:
            await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    report = json.dumps({"subscribers": [r.as_dict() for r in records]})
    await asyncio.to_thread(out.write_text, report, encoding="utf-8")
    return 1 if any(r.error is not None for r in records) else 0


def main() -> int:
    """Command line entry point of the subscriber process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--tokens", type=Path, required=True, help="a JSON list of bearer tokens")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tokens = json.loads(args.tokens.read_text(encoding="utf-8"))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run(args.base_url, args.namespace, tokens, args.out))


if __name__ == "__main__":
    sys.exit(main())
