"""The composition root: which adapters serve the domain, given the settings.

Service-owned: the template wrote it once and never changes it again.

- storage: the index in SQL through slipway.db (a SQLite file with FTS5 by default,
  PostgreSQL full-text search in production), migrated at start-up unless
  `migrate_on_startup` is off; `/ready` checks the database;
- auth: bearer tokens through slipway.auth (HS256 with a development secret by default),
  `contexts:read` for every search; the MCP endpoint is the protected resource
  `<public_base_url>/mcp`, whose RFC 9728 metadata is served at
  /.well-known/oauth-protected-resource(/mcp);
- Redis, when `redis` is set: one rate limit across instances, and the change stream the
  indexer follows (adapters/indexing.py);
- the `/v1/search` route and the `search_contexts` MCP tool, both on the same index;
- indexing from contexts' changes (adapters/indexing.py).

Search is read-only to its callers: no idempotency keys, no outbox.
"""

from search.adapters.indexing import add_indexing
from search.adapters.sql import MigrateOnStartup, SqlSearchIndex
from search.api.search import search_router
from search.mcp.auth import protected_resource_settings
from search.mcp.server import build_mcp
from search.settings import Settings
from slipway.auth import build_authenticator, protected_resource_router
from slipway.cache import RedisClient, RedisRateLimitBackend
from slipway.db import Database
from slipway.web import ServiceParts


def compose(settings: Settings) -> ServiceParts:
    """Build the index, its API, its MCP endpoint and its indexer on the configured adapters."""
    parts = ServiceParts()
    database = Database(settings.database, service_name=settings.service_name)
    if settings.migrate_on_startup:
        parts.resources.append(MigrateOnStartup(database))
    parts.resources.append(database)
    parts.readiness_checks.append(database.readiness_check)
    index = SqlSearchIndex(database, consumer=settings.service_name)

    # The MCP endpoint is the protected resource: RFC 9728 metadata, RFC 8707 audience.
    auth_settings = protected_resource_settings(settings)
    authenticator = build_authenticator(auth_settings, environment=settings.environment)
    parts.auth = authenticator
    parts.routers.append(protected_resource_router(auth_settings))

    redis: RedisClient | None = None
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.readiness_checks.append(redis.readiness_check)
        parts.rate_limit_backend = RedisRateLimitBackend(redis)  # one limit across instances

    contexts_url = settings.contexts_public_url or ""
    parts.routers.append(
        search_router(index, groups_claim=settings.groups_claim, contexts_url=contexts_url)
    )
    mcp = build_mcp(
        index,
        authenticator,
        groups_claim=settings.groups_claim,
        contexts_url=contexts_url,
        version=settings.version,
    )
    parts.resources.append(mcp)
    parts.mounts.append(mcp.mount())

    add_indexing(
        parts,
        settings.indexing,
        index=index,
        database=database,
        redis=redis,
        service=settings.service_name,
    )
    return parts
