"""JSON values read from the database: `json.loads`' answers at orjson's speed.

The engine decodes every `json`/`jsonb` (PostgreSQL) and JSON (SQLite) value it reads with
`loads` (`engine_options`). orjson parses 2-3x faster than the standard library, which on a
listed page of 51 rows of three JSON columns each was a sixth of the service's CPU, but it
does not always answer the same: an integer beyond 64 bits comes back as a float, not the
int `json.loads` gives, and it refuses what `json.loads` accepts (`NaN`, `Infinity`, a
number beyond the doubles read as infinity, an escaped lone surrogate). So a text with a run
of 19 or more digits (the shortest integer beyond 64 bits has 20; 19 keeps every literal
orjson takes as int64 on its path) goes to `json.loads`, and so does whatever orjson refuses:
the value is always the one `json.loads` returns (tests/test_json_values.py).
"""

import json
import re
from typing import Any

import orjson

_LONG_DIGIT_RUN = re.compile(r"\d{19}")


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`, by orjson whenever it gives the same value."""
    if isinstance(text, bytes):
        text = text.decode()
    if _LONG_DIGIT_RUN.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
