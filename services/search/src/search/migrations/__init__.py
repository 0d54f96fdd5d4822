"""Alembic migrations: env.py, script.py.mako and versions/, loaded by path.

`alembic revision` needs a configuration naming this directory; from code, use
`slipway.db.migrations` (`upgrade(url, MIGRATIONS_DIR)`), as the service does at start-up.
"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent
