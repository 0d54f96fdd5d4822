"""The service's settings: <PREFIX>* variables (nested ones with `__`), PREFIX below."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from search import __version__
from search.adapters.indexing import IndexingSettings
from slipway.auth import AuthSettings
from slipway.cache import RedisSettings
from slipway.config import ServiceSettings
from slipway.db import DatabaseSettings
from slipway.observability import ObservabilitySettings
from slipway.web import WebSettings

DEFAULT_PORT = 8001

# The embedded default for `./pants run services/search:serve`: HS256 tokens signed with a
# development secret (mint one with `./pants run services/search:token`). Its "replace-me"
# marks it a placeholder, so slipway.config refuses it in production, and
# slipway.auth.build_authenticator refuses HS256 there anyway.
DEV_ISSUER = "search-dev"
DEV_AUDIENCE = "search"
DEV_HS256_SECRET = "search-development-hs256-secret-replace-me"  # noqa: S105 - development only


class Settings(ServiceSettings):
    """What the service reads from its environment, `.env` file and secrets directory."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_")

    service_name: str = "search"
    version: str = __version__
    # <PREFIX>WEB__PORT, <PREFIX>WEB__HOST, ...
    web: WebSettings = WebSettings(port=DEFAULT_PORT)
    # Where clients reach this service (SEARCH_PUBLIC_BASE_URL=https://search.example.com):
    # the MCP endpoint's resource identifier is <this>/mcp (RFC 9728 metadata, token audience).
    # Unset: http://<web.host>:<web.port>, for development; production needs an https one.
    public_base_url: str | None = Field(default=None, examples=["https://search.example.com"])
    # Where clients reach contexts: a hit's `href` is <this>/v1/contexts/<namespace>/<name>.
    # Unset: the path alone.
    contexts_public_url: str | None = Field(default=None, examples=["https://contexts.example.com"])
    observability: ObservabilitySettings = ObservabilitySettings()
    # <PREFIX>DATABASE__URL; unset: the SQLite file ./<service_name>.db
    database: DatabaseSettings = DatabaseSettings()
    # Run the Alembic migrations at start-up; turn off where a release job runs them instead.
    migrate_on_startup: bool = True
    # <PREFIX>REDIS__URL; unset: no Redis (rate limits per process, contexts' HTTP event feed).
    redis: RedisSettings | None = None
    # Bearer tokens (SEARCH_AUTH__ISSUER, __AUDIENCE, __JWKS_URL, ...). Setting any of them
    # replaces this development default as a whole.
    auth: AuthSettings = AuthSettings(
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        algorithms=("HS256",),
        hs256_secret=SecretStr(DEV_HS256_SECRET),
    )
    # The token claim listing the caller's groups (ACL entries `group:<name>`).
    groups_claim: str = "groups"
    # Following contexts' changes (SEARCH_INDEXING__...): see adapters/indexing.py.
    indexing: IndexingSettings = IndexingSettings()
