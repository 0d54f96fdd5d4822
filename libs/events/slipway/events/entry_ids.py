"""Stream entry ids (`<milliseconds>-<sequence>`, as Redis Streams write them), on every backend."""

import re

ENTRY_ID_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"
"""A stream entry id, for validating `Last-Event-ID` and query parameters."""

_ENTRY_ID = re.compile(ENTRY_ID_PATTERN)

EntryKey = tuple[int, int]


def parse_entry_id(entry_id: str) -> EntryKey:
    """`"<ms>-<seq>"` as a comparable pair; ValueError if it is not one."""
    if not _ENTRY_ID.match(entry_id):
        raise ValueError(f"not a stream entry id: {entry_id!r}")
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq)


def is_entry_id(value: str) -> bool:
    """Whether `value` is a well-formed stream entry id."""
    return _ENTRY_ID.match(value) is not None


def format_entry_id(key: EntryKey) -> str:
    """The id text of a parsed entry id."""
    return f"{key[0]}-{key[1]}"
