"""The wall clock, as the SQL adapters default to it (the domain's `Clock` port)."""

from datetime import UTC, datetime


class SystemClock:
    """The current UTC time."""

    def now(self) -> datetime:
        """Now, timezone-aware, in UTC."""
        return datetime.now(UTC)
