"""SQL adapters (slipway.db, SQLAlchemy 2 Core): the registry's ports on PostgreSQL or SQLite.

- `SqlUnitOfWorkFactory(database, outbox)`: `ContextRegistry`'s `uow_factory`; each unit of work
  is one transaction over the context versions, the audit log and the outbox (slipway.events').
- `SqlAccessLookup(database)`: who may read a context (latest owner and ACL), for event filtering.
- `change_outbox()`: the service's slipway.events `Outbox` on its table.
- `metadata`: the tables, as Alembic's target metadata (`contexts.migrations`).
- `contexts.adapters.sql.migrate.MigrateOnStartup`: migrations to head as an app resource.
"""

from contexts.adapters.sql.access import SqlAccessLookup
from contexts.adapters.sql.outbox import change_outbox
from contexts.adapters.sql.tables import metadata
from contexts.adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "SqlAccessLookup",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "change_outbox",
    "metadata",
]
