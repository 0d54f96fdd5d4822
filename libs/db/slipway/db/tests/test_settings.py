"""DatabaseSettings: defaults, drivers, secrecy, and the engine options they produce."""

from pydantic import SecretStr
from sqlalchemy.pool import StaticPool

from slipway.config import ServiceSettings, render_settings
from slipway.db import Database, DatabaseSettings, async_url
from slipway.db.engine import engine_options


class BillingSettings(ServiceSettings):
    database: DatabaseSettings = DatabaseSettings()


def test_default_url_is_an_sqlite_file_named_after_the_service() -> None:
    url = DatabaseSettings().sqlalchemy_url("billing")
    assert url.render_as_string() == "sqlite+aiosqlite:///./billing.db"


def test_plain_postgresql_urls_get_the_asyncpg_driver() -> None:
    assert async_url("postgresql://app@db/app").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+asyncpg://app@db/app").drivername == "postgresql+asyncpg"
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"


def test_the_password_never_shows() -> None:
    url = "postgresql://app:hunter2-very-secret@db:5432/app"
    settings = BillingSettings(database=DatabaseSettings(url=SecretStr(url)))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in render_settings(settings)
    database = Database(settings.database)
    assert "hunter2" not in repr(database)
    assert "hunter2" not in str(database.url)


def test_postgresql_options_carry_timeouts_and_the_application_name() -> None:
    settings = DatabaseSettings(statement_timeout_ms=1500, pool_size=3, max_overflow=1)
    url = async_url("postgresql://app@db/app")
    options = engine_options(settings, url, "billing")
    assert options["pool_size"] == 3
    assert options["max_overflow"] == 1
    assert options["connect_args"]["server_settings"] == {
        "application_name": "billing",
        "statement_timeout": "1500",
    }


def test_in_memory_sqlite_shares_one_connection() -> None:
    options = engine_options(DatabaseSettings(), async_url("sqlite+aiosqlite://"), "x")
    assert options["poolclass"] is StaticPool
    assert "pool_size" not in options
