"""SQLAlchemy 2 async databases for Slipway services: engine, units of work, migrations."""

from slipway.db.database import Database, DatabaseReadiness
from slipway.db.dependencies import session_dependency, unit_of_work_dependency
from slipway.db.engine import create_engine
from slipway.db.metrics import DatabaseMetrics, database_metrics
from slipway.db.settings import DatabaseSettings, async_url
from slipway.db.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

__all__ = [
    "Database",
    "DatabaseMetrics",
    "DatabaseReadiness",
    "DatabaseSettings",
    "SqlAlchemyUnitOfWork",
    "UnitOfWork",
    "async_url",
    "create_engine",
    "database_metrics",
    "session_dependency",
    "unit_of_work_dependency",
]
