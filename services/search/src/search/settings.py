"""The service's settings: <PREFIX>* variables (nested ones with `__`), PREFIX below."""

from pydantic_settings import SettingsConfigDict

from search import __version__
from slipway.cache import RedisSettings
from slipway.config import ServiceSettings
from slipway.db import DatabaseSettings
from slipway.events import OutboxSettings
from slipway.observability import ObservabilitySettings
from slipway.web import IdempotencySettings, WebSettings

DEFAULT_PORT = 8001


class Settings(ServiceSettings):
    """What the service reads from its environment, `.env` file and secrets directory."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_")

    service_name: str = "search"
    version: str = __version__
    # <PREFIX>WEB__PORT, <PREFIX>WEB__HOST, ...
    web: WebSettings = WebSettings(port=DEFAULT_PORT)
    observability: ObservabilitySettings = ObservabilitySettings()
    # Idempotency-Key on POST /v1/items (<PREFIX>IDEMPOTENCY__TTL_SECONDS, ...).
    idempotency: IdempotencySettings = IdempotencySettings()
    # <PREFIX>DATABASE__URL; unset: the SQLite file ./<service_name>.db
    database: DatabaseSettings = DatabaseSettings()
    # Run the Alembic migrations at start-up; turn off where a release job runs them instead.
    migrate_on_startup: bool = True
    # <PREFIX>REDIS__URL; unset: no Redis, the in-memory adapters are used.
    redis: RedisSettings | None = None
    # The outbox relay (<PREFIX>OUTBOX__...): batch size, fallback poll, LISTEN/NOTIFY channel.
    outbox: OutboxSettings = OutboxSettings()
    # Where the relay publishes when Redis is set: stream `items` is key <key prefix><this>items.
    events_stream_prefix: str = "search:events:"
