"""SQLAlchemy 2 async databases for Slipway services: engine, units of work, migrations."""

from slipway.db.database import Database, DatabaseReadiness
from slipway.db.dependencies import session_dependency, unit_of_work_dependency
from slipway.db.engine import create_engine
from slipway.db.idempotency import (
    SqlIdempotencyStore,
    create_idempotency_table,
    drop_idempotency_table,
    idempotency_table,
)
from slipway.db.metrics import DatabaseMetrics, database_metrics
from slipway.db.settings import DatabaseSettings, async_url
from slipway.db.types import UtcDateTime
from slipway.db.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

__all__ = [
    "Database",
    "DatabaseMetrics",
    "DatabaseReadiness",
    "DatabaseSettings",
    "SqlAlchemyUnitOfWork",
    "SqlIdempotencyStore",
    "UnitOfWork",
    "UtcDateTime",
    "async_url",
    "create_engine",
    "create_idempotency_table",
    "database_metrics",
    "drop_idempotency_table",
    "idempotency_table",
    "session_dependency",
    "unit_of_work_dependency",
]
