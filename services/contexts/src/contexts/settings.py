"""The service's settings: <PREFIX>* variables (nested ones with `__`), PREFIX below."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from contexts import __version__
from contexts.events.settings import EventsSettings
from slipway.auth import AuthSettings
from slipway.cache import RedisSettings
from slipway.config import ServiceSettings
from slipway.db import DatabaseSettings
from slipway.observability import ObservabilitySettings
from slipway.web import IdempotencySettings, WebSettings

DEFAULT_PORT = 8000

# The embedded default for `./pants run services/contexts:serve`: HS256 tokens signed with a
# development secret (mint one with `./pants run services/contexts:token`). Its "replace-me"
# marks it a placeholder, so slipway.config refuses it in production, and
# slipway.auth.build_authenticator refuses HS256 there anyway.
DEV_ISSUER = "contexts-dev"
DEV_AUDIENCE = "contexts"
DEV_HS256_SECRET = "contexts-development-hs256-secret-replace-me"  # noqa: S105 - development only


class Settings(ServiceSettings):
    """What the service reads from its environment, `.env` file and secrets directory."""

    model_config = SettingsConfigDict(env_prefix="CONTEXTS_")

    service_name: str = "contexts"
    version: str = __version__
    # <PREFIX>WEB__PORT, <PREFIX>WEB__HOST, ...
    web: WebSettings = WebSettings(port=DEFAULT_PORT)
    # Where clients reach this service (CONTEXTS_PUBLIC_BASE_URL=https://contexts.example.com):
    # the MCP endpoint's resource identifier is <this>/mcp (RFC 9728 metadata, token audience).
    # Unset: http://<web.host>:<web.port>, for development; production needs an https one.
    public_base_url: str | None = Field(default=None, examples=["https://contexts.example.com"])
    observability: ObservabilitySettings = ObservabilitySettings()
    # <PREFIX>DATABASE__URL; unset: the SQLite file ./<service_name>.db
    database: DatabaseSettings = DatabaseSettings()
    # Run the Alembic migrations at start-up; turn off where a release job runs them instead.
    migrate_on_startup: bool = True
    # <PREFIX>REDIS__URL; unset: no Redis, the in-memory adapters are used.
    redis: RedisSettings | None = None
    # Bearer tokens (CONTEXTS_AUTH__ISSUER, __AUDIENCE, __JWKS_URL, ...). Setting any of them
    # replaces this development default as a whole.
    auth: AuthSettings = AuthSettings(
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        algorithms=("HS256",),
        hs256_secret=SecretStr(DEV_HS256_SECRET),
    )
    # The token claim listing the caller's groups (ACL entries `group:<name>`).
    groups_claim: str = "groups"
    # Idempotency-Key on PUT/PATCH/DELETE (slipway.web): CONTEXTS_IDEMPOTENCY__TTL_SECONDS, ...
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    # Change events on slipway.events: CONTEXTS_EVENTS__STREAM_PREFIX, the relay's
    # CONTEXTS_EVENTS__OUTBOX__POLL_INTERVAL_SECONDS, the SSE/MCP limits per caller
    # CONTEXTS_EVENTS__FANOUT__PER_PRINCIPAL (and __TOTAL), ...
    events: EventsSettings = EventsSettings()
    # Namespaces whose contexts MCP `resources/list` shows (CONTEXTS_MCP_NAMESPACES='["agents"]');
    # any context can still be read by its context://namespace/name URI.
    mcp_namespaces: tuple[str, ...] = ()
