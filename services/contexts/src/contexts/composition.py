"""The composition root: which adapters serve the domain, given the settings.

Service-owned: the template wrote it once and never changes it again.
"""

from dataclasses import dataclass, field

from fastapi import APIRouter

from contexts.adapters import memory, redis_events, redis_items, sql
from contexts.api.items import items_router
from contexts.domain.ports import EventPublisher, ItemRepository
from contexts.domain.service import ItemService
from contexts.settings import Settings
from slipway.cache import RedisClient
from slipway.db import Database
from slipway.web import ReadinessCheck, Resource


@dataclass
class Parts:
    """What `create_app` gets: routers, resources (started in order) and readiness checks."""

    routers: list[APIRouter] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)


def compose(settings: Settings) -> Parts:
    """Build the domain service on the adapters the settings call for."""
    parts = Parts()
    database = Database(settings.database, service_name=settings.service_name)
    if settings.migrate_on_startup:
        parts.resources.append(sql.MigrateOnStartup(database))
    parts.resources.append(database)
    parts.readiness_checks.append(database.readiness_check)
    repository: ItemRepository = sql.SqlItemRepository(database)
    events: EventPublisher = memory.InMemoryEventPublisher()
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.readiness_checks.append(redis.readiness_check)
        repository = redis_items.CachedItemRepository(repository, redis)
        events = redis_events.RedisStreamPublisher(redis, settings.events_stream)
    service = ItemService(repository, events)
    parts.routers.append(items_router(service))
    return parts
