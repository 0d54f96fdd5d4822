"""SQL adapters (slipway.db, SQLAlchemy 2 Core): the registry's ports on PostgreSQL or SQLite.

- `SqlUnitOfWorkFactory(database)`: `ContextRegistry`'s `uow_factory`; each unit of work is one
  transaction over the context versions, the audit log and the outbox.
- `SqlIdempotencyStore(database)`: stored responses by (idempotency key, subject), with expiry.
- `SqlOutboxSource(database)`: the committed outbox, as the relay reads it.
- `metadata`: the tables, as Alembic's target metadata (`contexts.migrations`).
- `contexts.adapters.sql.migrate.MigrateOnStartup`: migrations to head as an app resource.
"""

from contexts.adapters.sql.idempotency import SqlIdempotencyStore
from contexts.adapters.sql.outbox import SqlOutboxSource
from contexts.adapters.sql.tables import metadata
from contexts.adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "SqlIdempotencyStore",
    "SqlOutboxSource",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "metadata",
]
