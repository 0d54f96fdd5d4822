"""The service's settings: <PREFIX>* variables (nested ones with `__`), PREFIX below."""

from pydantic_settings import SettingsConfigDict

from contexts import __version__
from slipway.cache import RedisSettings
from slipway.config import ServiceSettings
from slipway.db import DatabaseSettings
from slipway.observability import ObservabilitySettings
from slipway.web import WebSettings

DEFAULT_PORT = 8000


class Settings(ServiceSettings):
    """What the service reads from its environment, `.env` file and secrets directory."""

    model_config = SettingsConfigDict(env_prefix="CONTEXTS_")

    service_name: str = "contexts"
    version: str = __version__
    # <PREFIX>WEB__PORT, <PREFIX>WEB__HOST, ...
    web: WebSettings = WebSettings(port=DEFAULT_PORT)
    observability: ObservabilitySettings = ObservabilitySettings()
    # <PREFIX>DATABASE__URL; unset: the SQLite file ./<service_name>.db
    database: DatabaseSettings = DatabaseSettings()
    # Run the Alembic migrations at start-up; turn off where a release job runs them instead.
    migrate_on_startup: bool = True
    # <PREFIX>REDIS__URL; unset: no Redis, the in-memory adapters are used.
    redis: RedisSettings | None = None
    # The Redis Stream domain events go to (under the Redis key prefix).
    events_stream: str = "contexts:events"
