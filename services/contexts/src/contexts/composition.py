"""The composition root: which adapters serve the domain, given the settings.

Service-owned: the template wrote it once and never changes it again.

- storage: SQL through slipway.db (a SQLite file by default, PostgreSQL in production), its
  migrations run at start-up unless `migrate_on_startup` is off;
- the registry's use-cases (`ContextRegistry`) with the built-in kinds;
- auth: bearer tokens through slipway.auth (HS256 with a development secret by default); the
  MCP endpoint is the protected resource `<public_base_url>/mcp`, whose RFC 9728 metadata is
  served at /.well-known/oauth-protected-resource(/mcp);
- `Idempotency-Key` on PUT/PATCH/DELETE: slipway.web's `IdempotencyMiddleware` on slipway.db's
  `SqlIdempotencyStore` (the `slipway_idempotency` table), shared by every instance;
- events (slipway.events): the unit of work writes change events to the outbox, whose relay
  (woken on commit) moves them to a Redis Stream when `redis` is set, else to an in-process
  stream; one `StreamHub` per process reads it for `/v1/events` (server-sent events) and the
  MCP subscriptions, both filtered by one `EventVisibility`; every event is also appended to
  the aggregate stream (`events.aggregate_stream`, `@all`), served to indexers holding
  `contexts:index` as `/v1/events` without a namespace;
- for indexers too: `GET /v1/contexts`, every live context of every namespace (backfill);
- the /v1 REST routes, and the same registry as an MCP server at /mcp (Streamable HTTP).
"""

from starlette.middleware import Middleware

from contexts.adapters.backoff import JitteredBackoff
from contexts.adapters.catalog import SqlCatalogReader
from contexts.adapters.sql import (
    SqlAccessLookup,
    SqlUnitOfWorkFactory,
    change_outbox,
)
from contexts.adapters.sql.clock import SystemClock
from contexts.adapters.sql.migrate import MigrateOnStartup
from contexts.adapters.sql.tables import idempotency
from contexts.api.contexts import contexts_router
from contexts.api.contract import serve_kind_bodies, serve_links
from contexts.api.events import AggregateFeed, event_reader, events_router, index_reader
from contexts.api.index import index_router
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.catalog import ContextCatalog
from contexts.domain.ports import Clock
from contexts.domain.retry import WriteRetry
from contexts.domain.service import ContextRegistry
from contexts.events.visibility import EventVisibility
from contexts.mcp.auth import protected_resource_settings
from contexts.mcp.server import build_mcp
from contexts.settings import Settings
from slipway.auth import build_authenticator, protected_resource_router
from slipway.cache import RedisClient, RedisRateLimitBackend
from slipway.db import Database, SqlIdempotencyStore
from slipway.events import InMemoryEventStream, OutboxRelay, RedisEventStream, StreamHub
from slipway.web import IdempotencyMiddleware, ServiceParts


def compose(settings: Settings, *, clock: Clock | None = None) -> ServiceParts:
    """Build the registry, its API and its event relay on the adapters the settings call for."""
    clock = SystemClock() if clock is None else clock
    parts = ServiceParts()

    database = Database(settings.database, service_name=settings.service_name)
    if settings.migrate_on_startup:
        parts.resources.append(MigrateOnStartup(database))
    parts.resources.append(database)
    parts.readiness_checks.append(database.readiness_check)

    # The MCP endpoint is the protected resource: RFC 9728 metadata, RFC 8707 audience.
    auth_settings = protected_resource_settings(settings)
    authenticator = build_authenticator(auth_settings, environment=settings.environment)
    parts.auth = authenticator
    parts.routers.append(protected_resource_router(auth_settings))

    kinds = default_kinds()
    outbox = change_outbox(channel=settings.events.outbox.channel)
    # A write that lost a version race runs again, after a jittered pause (contexts.domain.retry).
    registry = ContextRegistry(
        SqlUnitOfWorkFactory(database, outbox),
        kinds,
        clock,
        write_retry=WriteRetry(backoff=JitteredBackoff()),
    )
    parts.routers.append(contexts_router(registry, kinds, groups_claim=settings.groups_claim))
    catalog = ContextCatalog(SqlCatalogReader(database))
    parts.routers.append(index_router(catalog, groups_claim=settings.groups_claim))
    # One clock for the registry and the keys' lease and TTL (SystemClock: time.time()).
    keys = SqlIdempotencyStore(database, table=idempotency, clock=lambda: clock.now().timestamp())
    parts.resources.append(keys.purger())
    parts.middleware.append(
        Middleware(IdempotencyMiddleware, store=keys, settings=settings.idempotency)
    )

    stream: RedisEventStream | InMemoryEventStream
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.rate_limit_backend = RedisRateLimitBackend(redis)  # one limit across instances
        # No readiness check on Redis: it only carries events, which wait in the outbox while
        # it is down, so writes keep succeeding and the instance stays in service.
        stream = RedisEventStream(
            redis,
            prefix=settings.events.stream_prefix,
            maxlen=settings.events.stream_maxlen,
            aggregate=settings.events.aggregate_stream,
        )
    else:
        stream = InMemoryEventStream(
            maxlen=settings.events.stream_maxlen, aggregate=settings.events.aggregate_stream
        )
    parts.resources.append(OutboxRelay(database, outbox, stream, settings=settings.events.outbox))
    hub = StreamHub(stream, settings.events.fanout)
    parts.resources.append(hub)
    visibility = EventVisibility(
        SqlAccessLookup(database), max_entries=settings.events.visibility_cache_size
    )
    reader = event_reader(authenticator, settings.groups_claim)
    aggregate = None
    if settings.events.aggregate_stream is not None:
        aggregate = AggregateFeed(
            stream=settings.events.aggregate_stream,
            retained=stream,
            authorize=index_reader(authenticator, settings.groups_claim),
        )
    parts.routers.append(events_router(hub, visibility, reader, aggregate=aggregate))

    mcp = build_mcp(
        registry,
        authenticator,
        hub,
        visibility,
        namespaces=settings.mcp_namespaces,
        groups_claim=settings.groups_claim,
        version=settings.version,
    )
    parts.resources.append(mcp)
    parts.mounts.append(mcp.mount())
    parts.on_app.append(serve_kind_bodies(kinds))  # PUT bodies per kind (api/contract.py)
    parts.on_app.append(serve_links)  # OpenAPI links between operations (api/contract.py)
    return parts
