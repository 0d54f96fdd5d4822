"""`GET /v1/events?namespace=...`: a namespace's change events as server-sent events;
`GET /v1/events` without `namespace`: every namespace's, for holders of `contexts:index`.

On slipway.events: the process's `StreamHub` (one reader for every stream and watcher) and
its SSE helper (resume, heartbeats, limits, close reason). Each event is `id: <stream entry
id>`, `event: context.changed`, `data: <ContextChanged JSON>`. A client resumes after the
last id it saw with the `Last-Event-ID` header (browsers' EventSource send it when they
reconnect) or the `last_event_id` query parameter; without either it gets the namespace's
retained history (up to the stream's max length), then live events.

Only events of contexts the caller may read are sent (`EventVisibility`: the latest version's
ACL governs the whole history); the others leave no trace, not even an id. Past the limits on
open streams (per caller, per process) the answer is 429 with `Retry-After`.

The feed of every namespace (an indexer's: search) reads the aggregate stream every event is
also appended to (`EventsSettings.aggregate_stream`), needs `contexts:index` (not
`contexts:read`: it ignores ACLs) and sends every event. Its response says what the stream
still keeps, so a follower can tell that it fell behind the retention (and must backfill)
before it reads a single event: `Oldest-Event-ID` (the oldest entry kept; absent when the
stream is empty) and `Newest-Event-ID` (the newest, `0-0` when empty).
"""

from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated, Protocol

import orjson
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTasks

from contexts.api.actor import actor_of
from contexts.domain.model import NAME_PATTERN, Actor
from contexts.domain.policy import INDEX_SCOPE, READ_SCOPE
from contexts.events.visibility import EventVisibility
from slipway.auth import Authenticator
from slipway.events import ENTRY_ID_PATTERN, StreamEntry, StreamHub
from slipway.events.sse import event_source, last_event_id
from slipway.web import ProblemError
from slipway.web.problems import VALIDATION_TYPE

EVENT_TYPE = "context.changed"
# Where a stream without Last-Event-ID starts: before the first retained entry.
FROM_THE_START = "0-0"
OLDEST_EVENT_ID_HEADER = "Oldest-Event-ID"
NEWEST_EVENT_ID_HEADER = "Newest-Event-ID"

AuthorizeReader = Callable[[Request], Awaitable[Actor]]

_PROBLEM: dict[str, object] = {"application/problem+json": {}}


def event_reader(authenticator: Authenticator, groups_claim: str) -> AuthorizeReader:
    """The caller as an `Actor` holding `contexts:read` (implied by admin), refused with the
    same problems as every other route."""

    async def authorize(request: Request) -> Actor:
        principal = await authenticator.principal_or_problem(request, READ_SCOPE)
        return actor_of(principal, groups_claim)

    return authorize


def index_reader(authenticator: Authenticator, groups_claim: str) -> AuthorizeReader:
    """The caller as an `Actor` holding `contexts:index`, refused with the usual problems."""

    async def authorize(request: Request) -> Actor:
        principal = await authenticator.principal_or_problem(request, INDEX_SCOPE)
        return actor_of(principal, groups_claim)

    return authorize


class RetainedStream(Protocol):
    """What the aggregate feed reports of the stream it serves (slipway.events' streams)."""

    async def first_id(self, stream: str) -> str | None:
        """The oldest entry kept, None when the stream is empty."""
        ...

    async def last_id(self, stream: str) -> str:
        """The newest entry, "0-0" when the stream is empty."""
        ...


@dataclass(frozen=True, slots=True)
class AggregateFeed:
    """The feed of every namespace: the aggregate `stream`, read through the hub, for
    callers `authorize` accepts (holders of `contexts:index`)."""

    stream: str
    retained: RetainedStream
    authorize: AuthorizeReader


async def _every_event(_entry: StreamEntry) -> bool:
    return True


def _namespace_required() -> ProblemError:
    return ProblemError(
        422,
        "1 invalid field(s)",
        title="Request validation failed",
        type=VALIDATION_TYPE,
        extensions={
            "errors": [
                {
                    "loc": ["query", "namespace"],
                    "pointer": "query/namespace",
                    "message": "required: this instance has no feed of every namespace",
                    "type": "missing",
                }
            ]
        },
    )


def render_change(entry: StreamEntry) -> ServerSentEvent:
    """The SSE form of a change: the `ContextChanged` JSON as data, the entry id as id."""
    return ServerSentEvent(
        data=orjson.dumps(entry.event.payload).decode(), event=EVENT_TYPE, id=entry.entry_id
    )


def events_router(
    hub: StreamHub,
    visibility: EventVisibility,
    authorize: AuthorizeReader,
    *,
    aggregate: AggregateFeed | None = None,
) -> APIRouter:
    """The router serving `GET /v1/events`; `authorize` gives the calling reader or raises;
    with `aggregate`, `GET /v1/events` without `namespace` serves every namespace's events."""
    router = APIRouter(prefix="/v1", tags=["events"])

    @router.get(
        "/events",
        summary="Stream a namespace's (or, for indexers, every) change events (server-sent events)",
        response_class=EventSourceResponse,
        responses={
            200: {
                "description": "`context.changed` events of contexts the caller may read, "
                "`id` = stream entry id; without `namespace`, every event",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "headers": {
                    OLDEST_EVENT_ID_HEADER: {
                        "description": "without `namespace`: the oldest entry the stream "
                        "keeps (absent when it is empty)",
                        "schema": {"type": "string", "pattern": ENTRY_ID_PATTERN},
                    },
                    NEWEST_EVENT_ID_HEADER: {
                        "description": "without `namespace`: the newest entry (`0-0` when "
                        "the stream is empty)",
                        "schema": {"type": "string", "pattern": ENTRY_ID_PATTERN},
                    },
                },
            },
            401: {"description": "problem details", "content": _PROBLEM},
            403: {"description": "problem details", "content": _PROBLEM},
            422: {"description": "problem details", "content": _PROBLEM},
            429: {
                "description": "Too many open event streams (for this caller or this instance); "
                "retry after `Retry-After` seconds",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": _PROBLEM,
            },
            503: {
                "description": "The event stream cannot be read; retry after `Retry-After`",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": _PROBLEM,
            },
        },
    )
    async def stream_events(
        request: Request,
        namespace: Annotated[
            str | None,
            Query(
                pattern=NAME_PATTERN,
                description="The namespace; omitted: every namespace (needs `contexts:index`)",
            ),
        ] = None,
        last_event_id_query: Annotated[
            str | None,
            Query(
                alias="last_event_id",
                pattern=ENTRY_ID_PATTERN,
                description="Resume after this entry id",
            ),
        ] = None,
        last_event_id_header: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                pattern=ENTRY_ID_PATTERN,
                description="Resume after this entry id (sent by EventSource on reconnect)",
            ),
        ] = None,
    ) -> EventSourceResponse:
        if namespace is None:
            if aggregate is None:
                raise _namespace_required()
            return await every_namespace(request, aggregate)
        actor = await authorize(request)

        async def visible(entry: StreamEntry) -> bool:
            return await visibility.may_see(actor, entry.event.payload)

        after = last_event_id(request) or FROM_THE_START
        following = ExitStack()
        following.enter_context(visibility.following(namespace))
        try:
            response = await event_source(
                request,
                hub,
                namespace,
                principal=actor.subject,
                visible=visible,
                render=render_change,
                after=after,
            )
        except BaseException:
            following.close()
            raise
        # Released when the response is over, after the helper closed the subscription.
        tasks = BackgroundTasks()
        if response.background is not None:
            tasks.add_task(response.background)
        tasks.add_task(following.close)
        response.background = tasks
        return response

    async def every_namespace(request: Request, feed: AggregateFeed) -> EventSourceResponse:
        actor = await feed.authorize(request)
        after = last_event_id(request) or FROM_THE_START
        # Read before subscribing: what is kept can only grow newer meanwhile.
        oldest = await feed.retained.first_id(feed.stream)
        newest = await feed.retained.last_id(feed.stream)
        response = await event_source(
            request,
            hub,
            feed.stream,
            principal=actor.subject,
            visible=_every_event,
            render=render_change,
            after=after,
        )
        if oldest is not None:
            response.headers[OLDEST_EVENT_ID_HEADER] = oldest
        response.headers[NEWEST_EVENT_ID_HEADER] = newest
        return response

    return router
