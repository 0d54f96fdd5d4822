"""Indexing search from contexts' changes: settings and the wiring `composition.py` calls.

`add_indexing(parts, settings, *, index, database, redis, service)` adds to the app's parts
what keeps the index up to date (the logic is `search.domain.indexer`'s):

- a `ResilientClient` for contexts' API (`contexts_http.ContextsHttpSource`), with a bearer
  token of search's own: OAuth client credentials (`client`) or, in development, a token
  signed with contexts' development secret (`development_token`);
- the change feed (`change_feed`): contexts' aggregate Redis Stream through search's own
  consumer group when Redis is configured, else contexts' HTTP event feed, resumed with
  `Last-Event-ID` from the checkpoint in search's database;
- the `Follower` as a background task (backfill when needed, then every change), restarted
  after a backoff should it ever fail unexpectedly;
- a readiness check `contexts` that fails while the feed is disconnected or contexts cannot
  answer. It is non-critical by default: search keeps serving its index meanwhile, so /ready
  stays 200 with `"status": "degraded"` naming `contexts` (and why) rather than a 503 that
  would take every search instance out of rotation exactly while contexts is down;
  `contexts_check_critical` makes it fail /ready (503) instead;
- metrics: `search_indexing_lag_seconds` (event occurred in contexts -> applied here),
  `search_indexing_events_total{outcome="applied"|"duplicate"}`,
  `search_indexing_failures_total{reason}`, `search_indexing_backfilled_contexts_total`,
  `search_indexing_backfill_removed_contexts_total`,
  `search_indexing_feed_connected`.

Each applied event gets a request id of its own and a span (`index context.changed`), so
search's log lines for it and contexts' access log line of the fetch share request and
trace ids (slipway.http sends `X-Request-ID` and `traceparent`).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Self

import httpx
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from search.adapters.change_feed import HttpSseFeed, RedisGroupFeed, SqlCheckpoints, consumer_name
from search.adapters.contexts_http import INDEX_SCOPES, ContextsHttpSource, DevelopmentTokenSource
from search.domain.indexer import (
    Backoff,
    ChangeFeed,
    ChangeNotice,
    Follower,
    Indexer,
)
from search.domain.ports import SearchIndex
from slipway.auth import (
    BearerTokenAuth,
    ClientCredentialsSettings,
    ClientCredentialsTokenSource,
    TokenSource,
)
from slipway.cache import RedisClient
from slipway.db import Database
from slipway.events import RedisEventStream
from slipway.http import HttpClientSettings, ResilientClient
from slipway.logging import get_logger
from slipway.logging.request_id import bind_request_id, new_request_id, unbind_request_id
from slipway.observability.registry import MetricsPerRegistry
from slipway.web import BackgroundTask, ServiceParts

DEFAULT_CONTEXTS_URL = "http://127.0.0.1:8000"
READINESS_NAME = "contexts"
HEALTH_PATH = "/health"
# contexts' development defaults (contexts/settings.py): what its embedded default accepts.
CONTEXTS_DEV_ISSUER = "contexts-dev"
CONTEXTS_DEV_AUDIENCE = "contexts"
CONTEXTS_DEV_SECRET = "contexts-development-hs256-secret-replace-me"  # noqa: S105 - development

_log = get_logger(__name__)
_tracer = trace.get_tracer("search.indexing")


class DevelopmentToken(BaseModel):
    """HS256 tokens for a development contexts, signed with its development secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr = SecretStr(CONTEXTS_DEV_SECRET)
    issuer: str = CONTEXTS_DEV_ISSUER
    audience: str = CONTEXTS_DEV_AUDIENCE
    subject: str = "search"


class IndexingSettings(BaseModel):
    """Nest as `indexing: IndexingSettings` (`SEARCH_INDEXING__CONTEXTS__BASE_URL`, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="Follow contexts' changes at all")
    contexts: HttpClientSettings = HttpClientSettings(base_url=DEFAULT_CONTEXTS_URL)
    # search's OAuth client (client credentials), granted `contexts:read contexts:index`;
    # setting it drops `development_token`.
    client: ClientCredentialsSettings | None = None
    # The client of the authorization server (token endpoint, discovery).
    authorization_server: HttpClientSettings = HttpClientSettings()
    development_token: DevelopmentToken | None = DevelopmentToken()
    # With Redis: contexts' aggregate stream and search's consumer group on it.
    stream_prefix: str = Field(default="contexts:events:", description="contexts' key prefix")
    aggregate_stream: str = Field(default="@all", description="contexts' stream of everything")
    group: str = Field(default="search", min_length=1, description="search's consumer group")
    claim_idle_ms: int = Field(
        default=30_000, ge=0, description="Claim entries another consumer left pending this long"
    )
    # Without Redis: contexts' SSE feed, which heartbeats every 15 s by default.
    feed_read_timeout_seconds: float = Field(default=60.0, gt=0)
    catalog_page_size: int = Field(default=100, ge=1, le=100)
    ready_requires_contexts: bool = Field(
        default=True,
        description="/ready checks (and names) a disconnected feed or an unreachable contexts",
    )
    contexts_check_critical: bool = Field(
        default=False,
        description=(
            "A failing contexts check makes /ready answer 503 (out of rotation); by default it"
            " answers 200 with status degraded, as search keeps serving its index"
        ),
    )
    unready_after_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long contexts may be unreachable before its readiness check fails",
    )
    health_timeout_seconds: float = Field(default=1.0, gt=0, description="contexts' /health")

    @model_validator(mode="after")
    def _credentials_replace_the_development_token(self) -> Self:
        if self.client is not None and self.development_token is not None:
            return self.model_copy(update={"development_token": None})
        return self


def _register(registry: CollectorRegistry) -> "IndexingMetrics":
    return IndexingMetrics(
        lag=Histogram(
            "search_indexing_lag_seconds",
            "From a change in contexts (its event's occurred_at) to it applied in the index.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        ),
        events=Counter(
            "search_indexing_events",
            "contexts' change events handled, by outcome (applied, duplicate).",
            ("outcome",),
            registry=registry,
        ),
        failures=Counter(
            "search_indexing_failures",
            "Attempts that failed: unavailable (retried) or malformed (skipped).",
            ("reason",),
            registry=registry,
        ),
        backfilled=Counter(
            "search_indexing_backfilled_contexts",
            "Contexts put into the index by backfills.",
            registry=registry,
        ),
        backfill_removed=Counter(
            "search_indexing_backfill_removed_contexts",
            "Contexts removed by backfills because contexts' catalog no longer listed them.",
            registry=registry,
        ),
        connected=Gauge(
            "search_indexing_feed_connected",
            "1 while the change feed is followed, 0 while it is being reconnected.",
            registry=registry,
        ),
    )


class IndexingMetrics:
    """The `IndexingMetrics` port on Prometheus families."""

    def __init__(
        self,
        *,
        lag: Histogram,
        events: Counter,
        failures: Counter,
        backfilled: Counter,
        backfill_removed: Counter,
        connected: Gauge,
    ) -> None:
        self.lag = lag
        self.events = events
        self.failures = failures
        self.backfilled_total = backfilled
        self.backfill_removed_total = backfill_removed
        self.connected = connected

    def applied(self, lag_seconds: float) -> None:
        """A change applied, `lag_seconds` after it occurred."""
        self.lag.observe(lag_seconds)
        self.events.labels(outcome="applied").inc()

    def duplicate(self) -> None:
        """An event applied before."""
        self.events.labels(outcome="duplicate").inc()

    def failed(self, reason: str) -> None:
        """An attempt that failed."""
        self.failures.labels(reason=reason).inc()

    def backfilled(self, contexts: int) -> None:
        """A backfill's count."""
        self.backfilled_total.inc(contexts)

    def backfill_removed(self, contexts: int) -> None:
        """How many contexts a backfill removed (no longer in contexts' catalog)."""
        self.backfill_removed_total.inc(contexts)


indexing_metrics = MetricsPerRegistry(_register)


@asynccontextmanager
async def traced_event(notice: ChangeNotice) -> AsyncIterator[None]:
    """One applied event's scope: a request id of its own and a consumer span, so every log
    line of it, here and in contexts (the fetch carries both), shares request and trace id."""
    binding = bind_request_id(new_request_id())
    try:
        with _tracer.start_as_current_span(
            "index context.changed",
            kind=trace.SpanKind.CONSUMER,
            attributes={"context": str(notice.ref), "event_id": notice.event_id},
        ):
            yield
    finally:
        unbind_request_id(binding)


class IndexingReadiness:
    """A slipway.web readiness check naming contexts: it fails once indexing has been unable
    to follow contexts for `unready_after_seconds` (the feed disconnected, contexts' fetches
    failing, or contexts' `/health` not answering), so a blip does not flap readiness."""

    name = READINESS_NAME

    def __init__(
        self,
        follower: Follower,
        indexer: Indexer,
        health: httpx.AsyncClient,
        *,
        unready_after_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._follower = follower
        self._indexer = indexer
        self._health = health
        self._grace = unready_after_seconds
        self._clock = clock
        self._failing_since: float | None = None

    async def problem(self) -> str | None:
        """What keeps indexing from following contexts now, None when nothing does."""
        if not self._follower.connected:
            return f"change feed not connected: {self._follower.last_error or 'connecting'}"
        if self._indexer.last_failure is not None:
            return f"contexts unavailable: {self._indexer.last_failure}"
        try:
            response = await self._health.get(HEALTH_PATH)
        except httpx.HTTPError as error:
            return f"contexts {HEALTH_PATH} unreachable: {type(error).__name__}"
        if response.status_code != 200:
            return f"contexts {HEALTH_PATH} answered {response.status_code}"
        return None

    async def __call__(self) -> None:
        """Raise naming the problem once it lasted the grace period; else return."""
        problem = await self.problem()
        now = self._clock()
        if problem is None:
            self._failing_since = None
            return
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since >= self._grace:
            raise ConnectionError(problem)


class _Supervised:
    """Runs the follower; an unexpected failure is logged and the follower restarted."""

    def __init__(self, follower: Follower, metrics: IndexingMetrics) -> None:
        self._follower = follower
        self._metrics = metrics

    async def __call__(self) -> None:
        backoff = Backoff(base=1.0, cap=30.0)
        attempt = 0
        while True:
            try:
                await self._follower.run()
            except Exception:
                attempt += 1
                self._follower.connected = False
                self._metrics.connected.set(0)
                delay = backoff.delay(attempt)
                _log.exception("indexing failed; restarting", retry_in_seconds=delay)
                await asyncio.sleep(delay)


class _ConnectedGauge:
    """Mirrors the follower's connection in the gauge (a tiny task beside it)."""

    def __init__(self, follower: Follower, metrics: IndexingMetrics) -> None:
        self._follower = follower
        self._metrics = metrics

    async def __call__(self) -> None:
        while True:
            self._metrics.connected.set(1 if self._follower.connected else 0)
            await asyncio.sleep(1.0)


class HttpClientResource:
    """A slipway.web resource closing a plain httpx client at shutdown."""

    def __init__(self, name: str, client: httpx.AsyncClient) -> None:
        self.name = name
        self.client = client

    async def start(self) -> None:
        """Nothing to open: httpx connects lazily."""

    async def stop(self) -> None:
        """Close the pool."""
        await self.client.aclose()


def token_source(
    settings: IndexingSettings, parts: ServiceParts, registry: CollectorRegistry | None
) -> TokenSource:
    """search's token source for contexts: client credentials, else the development token."""
    if settings.client is not None:
        server = ResilientClient(
            settings.authorization_server, name="authorization-server", registry=registry
        )
        parts.resources.append(server)
        return ClientCredentialsTokenSource(settings.client, server)
    dev = settings.development_token
    if dev is None:
        raise ValueError("indexing needs `client` (OAuth client credentials) for contexts")
    return DevelopmentTokenSource(
        dev.secret.get_secret_value(),
        issuer=dev.issuer,
        audience=dev.audience,
        subject=dev.subject,
        scopes=INDEX_SCOPES,
    )


def add_indexing(
    parts: ServiceParts,
    settings: IndexingSettings,
    *,
    index: SearchIndex,
    database: Database,
    redis: RedisClient | None,
    service: str,
    registry: CollectorRegistry | None = None,
) -> Follower | None:
    """Add the indexing follower and its dependencies to `parts` (nothing when disabled);
    the follower, for tests and probes."""
    if not settings.enabled:
        return None
    metrics = indexing_metrics(registry)
    tokens = token_source(settings, parts, registry)
    auth = BearerTokenAuth(tokens)
    contexts = ResilientClient(settings.contexts, name="contexts", registry=registry, auth=auth)
    parts.resources.append(contexts)
    source = ContextsHttpSource(contexts, page_size=settings.catalog_page_size)
    indexer = Indexer(index, source, metrics, clock=lambda: datetime.now(UTC), sleep=asyncio.sleep)
    feed: ChangeFeed
    if redis is not None:
        streams = RedisEventStream(redis, prefix=settings.stream_prefix, maxlen=None)
        feed = RedisGroupFeed(
            streams,
            stream=settings.aggregate_stream,
            group=settings.group,
            consumer=f"{service}-{consumer_name()}",
            claim_idle_ms=settings.claim_idle_ms,
        )
    else:
        c = settings.contexts
        timeout = httpx.Timeout(
            connect=c.connect_timeout,
            read=settings.feed_read_timeout_seconds,
            write=c.write_timeout,
            pool=c.pool_timeout,
        )
        http = httpx.AsyncClient(base_url=c.base_url, timeout=timeout, auth=auth)
        parts.resources.append(HttpClientResource("contexts-feed", http))
        feed = HttpSseFeed(http, SqlCheckpoints(database), feed=f"{service}:contexts")
    follower = Follower(indexer, feed, sleep=asyncio.sleep, scope=traced_event)
    # After the database, Redis and the clients it uses: started after them, stopped before.
    parts.resources.append(BackgroundTask("indexing", _Supervised(follower, metrics)))
    parts.resources.append(BackgroundTask("indexing-gauge", _ConnectedGauge(follower, metrics)))
    if settings.ready_requires_contexts:
        health = httpx.AsyncClient(
            base_url=settings.contexts.base_url, timeout=settings.health_timeout_seconds
        )
        parts.resources.append(HttpClientResource("contexts-health", health))
        readiness = IndexingReadiness(
            follower, indexer, health, unready_after_seconds=settings.unready_after_seconds
        )
        if settings.contexts_check_critical:
            parts.readiness_checks.append(readiness)
        else:
            parts.noncritical_checks.append(readiness)  # /ready: 200 "degraded", not 503
    return follower
