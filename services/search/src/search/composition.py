"""The composition root: which adapters serve the domain, given the settings.

Service-owned: the template wrote it once and never changes it again.
"""

from starlette.middleware import Middleware

from search.adapters import redis_items, sql
from search.api.items import items_router
from search.domain.ports import ItemRepository
from search.domain.service import ItemService
from search.settings import Settings
from slipway.cache import RedisClient, RedisRateLimitBackend
from slipway.db import Database, SqlIdempotencyStore
from slipway.events import InMemoryEventStream, Outbox, OutboxRelay, RedisEventStream
from slipway.web import IdempotencyMiddleware, ServiceParts
from slipway.web.idempotency import principal_or_anonymous


def compose(settings: Settings) -> ServiceParts:
    """Build the domain service on the adapters the settings call for."""
    parts = ServiceParts()
    database = Database(settings.database, service_name=settings.service_name)
    if settings.migrate_on_startup:
        parts.resources.append(sql.MigrateOnStartup(database))
    parts.resources.append(database)
    parts.readiness_checks.append(database.readiness_check)
    # Idempotency-Key: reserved and replayed through the database, across every instance.
    keys = SqlIdempotencyStore(database, table=sql.idempotency_keys)
    parts.resources.append(keys.purger())  # deletes expired keys hourly
    # Items and their events commit together; the relay (woken on commit) publishes the events.
    outbox = Outbox(sql.outbox_events, channel=settings.outbox.channel)
    repository: ItemRepository = sql.SqlItemRepository(database, outbox)
    stream: InMemoryEventStream | RedisEventStream = InMemoryEventStream()
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.readiness_checks.append(redis.readiness_check)
        parts.rate_limit_backend = RedisRateLimitBackend(redis)  # one limit across instances
        repository = redis_items.CachedItemRepository(repository, redis)
        stream = RedisEventStream(redis, prefix=settings.events_stream_prefix)
    # After the database (and Redis) it uses: started after, stopped before.
    parts.resources.append(OutboxRelay(database, outbox, stream, settings=settings.outbox))
    # The template has no auth: every caller shares one key space (`anonymous`); with auth,
    # principal_or_anonymous gives each principal its own.
    parts.middleware.append(
        Middleware(
            IdempotencyMiddleware,
            store=keys,
            settings=settings.idempotency,
            subject=principal_or_anonymous,
        )
    )
    service = ItemService(repository)
    parts.routers.append(items_router(service))
    return parts
