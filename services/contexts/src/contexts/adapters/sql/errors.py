"""Telling a uniqueness violation (someone else took the key) from other integrity errors."""

from sqlalchemy.exc import IntegrityError

# PostgreSQL's SQLSTATE for unique_violation; SQLite says so in the message.
_UNIQUE_VIOLATION = "23505"
_SQLITE_MARKERS = ("UNIQUE constraint failed", "PRIMARY KEY constraint failed")


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether the statement failed because a primary key or unique value was already taken."""
    original = error.orig
    if getattr(original, "sqlstate", None) == _UNIQUE_VIOLATION:
        return True
    if getattr(original, "pgcode", None) == _UNIQUE_VIOLATION:
        return True
    message = str(original)
    return any(marker in message for marker in _SQLITE_MARKERS)
