"""The composition root: which adapters serve the domain, given the settings.

Service-owned: the template wrote it once and never changes it again.

- storage: SQL through slipway.db (a SQLite file by default, PostgreSQL in production), its
  migrations run at start-up unless `migrate_on_startup` is off;
- the registry's use-cases (`ContextRegistry`) with the built-in kinds;
- auth: bearer tokens through slipway.auth (HS256 with a development secret by default);
- events: the outbox relay moves committed changes to a Redis Stream when `redis` is set,
  else to an in-process stream; `/v1/events` serves them as server-sent events;
- the /v1 REST routes, and the same registry as an MCP server at /mcp (Streamable HTTP).
"""

from contexts.adapters.memory_stream import InMemoryEventStream
from contexts.adapters.redis_stream import RedisEventStream
from contexts.adapters.sql import SqlIdempotencyStore, SqlOutboxSource, SqlUnitOfWorkFactory
from contexts.adapters.sql.clock import SystemClock
from contexts.adapters.sql.migrate import MigrateOnStartup
from contexts.api.actor import namespace_reader
from contexts.api.contexts import contexts_router
from contexts.api.events import events_router
from contexts.api.idempotency import IdempotencyGuard
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.ports import Clock
from contexts.domain.relay import EventStream
from contexts.domain.service import ContextRegistry
from contexts.events.relay import OutboxRelay
from contexts.mcp.server import build_mcp
from contexts.settings import Settings
from slipway.auth import build_authenticator
from slipway.cache import RedisClient, RedisRateLimitBackend
from slipway.db import Database
from slipway.web import ServiceParts


def compose(settings: Settings, *, clock: Clock | None = None) -> ServiceParts:
    """Build the registry, its API and its event relay on the adapters the settings call for."""
    clock = SystemClock() if clock is None else clock
    parts = ServiceParts()

    database = Database(settings.database, service_name=settings.service_name)
    if settings.migrate_on_startup:
        parts.resources.append(MigrateOnStartup(database))
    parts.resources.append(database)
    parts.readiness_checks.append(database.readiness_check)

    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    parts.auth = authenticator

    kinds = default_kinds()
    registry = ContextRegistry(SqlUnitOfWorkFactory(database), kinds, clock)
    idempotency = IdempotencyGuard(
        SqlIdempotencyStore(database, clock=clock), clock, settings.idempotency_ttl_seconds
    )
    parts.routers.append(
        contexts_router(registry, kinds, idempotency, groups_claim=settings.groups_claim)
    )

    stream: EventStream
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.rate_limit_backend = RedisRateLimitBackend(redis)  # one limit across instances
        # No readiness check on Redis: it only carries events, which wait in the outbox while
        # it is down, so writes keep succeeding and the instance stays in service.
        stream = RedisEventStream(
            redis, prefix=settings.events.stream_prefix, maxlen=settings.events.stream_maxlen
        )
    else:
        stream = InMemoryEventStream()
    parts.resources.append(
        OutboxRelay(
            SqlOutboxSource(database, clock=clock),
            stream,
            batch_size=settings.events.batch_size,
            poll_interval=settings.events.poll_interval_seconds,
            max_backoff=settings.events.max_backoff_seconds,
        )
    )
    parts.routers.append(
        events_router(stream, settings.events, authorize=namespace_reader(authenticator))
    )

    mcp = build_mcp(
        registry,
        authenticator,
        stream,
        namespaces=settings.mcp_namespaces,
        groups_claim=settings.groups_claim,
        version=settings.version,
    )
    parts.resources.append(mcp)
    parts.mounts.append(mcp.mount())
    return parts
