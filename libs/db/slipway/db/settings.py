"""Database settings: the URL (a secret), pool sizing, timeouts and SQLite pragmas."""

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.engine import URL, make_url

DEFAULT_URL = "sqlite+aiosqlite:///./{service}.db"


class DatabaseSettings(BaseModel):
    """How a service reaches its database; nest it as `database: DatabaseSettings`.

    `url` defaults to an embedded SQLite file, `./<service_name>.db`; in production set a
    PostgreSQL URL such as `postgresql+asyncpg://app:<password>@db:5432/app`. It is a
    `SecretStr`: the password never shows in `repr()`, logs or the printed settings.
    """

    url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means the SQLite file ./<service_name>.db",
        examples=["postgresql+asyncpg://app:s3cret@127.0.0.1:5432/app"],
    )
    pool_size: int = Field(
        default=15,
        ge=1,
        description=(
            "Connections the pool keeps open (opened on first use, then kept). 15 is more "
            "than one event loop keeps busy, and the cap the old 5 + 10 overflow had; size "
            "it so pool_size x processes x instances stays below PostgreSQL max_connections "
            "(default 100) minus what migrations, admins and other clients need"
        ),
    )
    max_overflow: int = Field(
        default=0,
        ge=0,
        description=(
            "Extra connections opened beyond pool_size under load and closed again on "
            "return: each is a connect() (TCP, startup, auth) per burst, so 0 by default; "
            "requests beyond pool_size wait up to pool_timeout_seconds for a connection"
        ),
    )
    pool_timeout_seconds: float = Field(default=10.0, gt=0)
    pool_recycle_seconds: int = Field(
        default=1800,
        description=(
            "Reconnect a pooled connection at checkout once it is this old (bounds what an "
            "idle-connection killer or a server-side change can leave behind); -1 never"
        ),
    )
    pool_pre_ping: bool = Field(
        default=False,
        description=(
            "A round trip on every checkout to test the connection. Off: a connection whose "
            "socket the server closed is replaced at checkout without one, a disconnect "
            "invalidates the pool, and Database.read and ping retry once"
        ),
    )
    echo: bool = False
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int | None = Field(
        default=30_000, ge=0, description="PostgreSQL statement_timeout; None keeps the server's"
    )
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    sqlite_journal_mode: Literal["WAL", "DELETE", "TRUNCATE", "MEMORY"] = "WAL"
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)

    def sqlalchemy_url(self, service_name: str = "slipway") -> URL:
        """The parsed URL (a plain `postgresql://` gets the asyncpg driver)."""
        raw = DEFAULT_URL.format(service=service_name) if self.url is None else self.url
        return async_url(raw)


def async_url(url: "str | SecretStr | URL") -> URL:
    """`url` parsed, with an async driver: `postgresql://` becomes `postgresql+asyncpg://`."""
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed
