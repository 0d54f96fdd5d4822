"""SQL adapters (slipway.db): the search index on PostgreSQL full-text search or SQLite FTS5.

`metadata` is what migrations/env.py compares the migrations with.
"""

from search.adapters.sql.index import SqlSearchIndex
from search.adapters.sql.migrate import MigrateOnStartup
from search.adapters.sql.tables import contexts, metadata, processed_events

__all__ = ["MigrateOnStartup", "SqlSearchIndex", "contexts", "metadata", "processed_events"]
