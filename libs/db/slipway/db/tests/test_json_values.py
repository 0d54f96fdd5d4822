"""`slipway.db.json_values.loads` answers what `json.loads` answers, on every text."""

import json
import random
import struct
from typing import Any

import pytest
import sqlalchemy as sa

from slipway.db import Database
from slipway.db.json_values import loads

# repr tells 1 from 1.0, -0.0 from 0.0 and keeps key order, so equal reprs are equal values.
EDGES = [
    "{}",
    "[]",
    '{"a": 1, "a": 2}',
    "-0",
    "-0.0",
    "1E5",
    "0.1e-400",
    "5e-324",
    "1.7976931348623157e308",
    "1.8e308",  # beyond the doubles: json.loads reads inf, orjson refuses
    "-1e400",
    "NaN",
    "[Infinity, -Infinity]",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",  # orjson reads a float
    "123456789012345678901234567890",
    '{"big": 100000000000000000000, "n": [1, 2.5]}',
    '"1234567890123456789 in a string"',
    '"\\ud800"',  # a lone surrogate: orjson refuses
    '"\\ud83d\\ude00 \\u00e9 \\u0000"',
    '"caf\u00e9 \U0001f600"',
    '{"nested": {"a": [{"b": null, "c": true, "d": false}]}}',
    "[" * 200 + "]" * 200,
]


@pytest.mark.parametrize("text", EDGES)
def test_loads_is_json_loads_on_edge_cases(text: str) -> None:
    assert repr(loads(text)) == repr(json.loads(text))
    assert repr(loads(text.encode())) == repr(json.loads(text))


def _number(rng: random.Random) -> Any:
    choice = rng.randrange(3)
    if choice == 0:  # integers of 1 to 25 digits, either sign
        return rng.choice((1, -1)) * rng.randrange(10 ** rng.randrange(1, 26))
    if choice == 1:  # any finite double, by its bits
        while True:
            value: float = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if value == value and abs(value) != float("inf"):
                return value
    return rng.choice((0.1, 1e-7, 123.456e10, -2.5, 1e22, 1e23))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return _number(rng)
    if kind == 1:
        return "".join(
            chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x3000))))
            for _ in range(rng.randrange(8))
        )
    if kind == 2:
        return rng.choice((None, True, False))
    if kind == 3:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {f"k{rng.randrange(50)}": _value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_loads_is_json_loads_on_random_documents() -> None:
    rng = random.Random(13)  # noqa: S311 - test data, not secrets
    for _ in range(3000):
        text = json.dumps(_value(rng), ensure_ascii=rng.random() < 0.5)
        assert repr(loads(text)) == repr(json.loads(text)), text


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{'a': 1}", "01", "1 2", '"\\x"'])
def test_invalid_json_raises_what_json_loads_raises(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        loads(text)


VALUES = sa.table("json_values_probe", sa.column("doc", sa.JSON()))


async def test_the_engine_decodes_json_columns_with_it(database: Database) -> None:
    assert database.engine.dialect._json_deserializer is loads
    column = "jsonb" if database.engine.dialect.name == "postgresql" else "json"
    docs = [{"a": [1, 2.5, "x"]}, {"big": 123456789012345678901234567890, "f": 1e300}]
    async with database.engine.begin() as connection:
        await connection.execute(sa.text(f"CREATE TABLE json_values_probe (doc {column})"))
        await connection.execute(sa.insert(VALUES), [{"doc": doc} for doc in docs])
        read = (await connection.execute(sa.select(VALUES.c.doc))).scalars().all()
        # The stored text, as the database prints it (jsonb orders keys, writes 1e300 out).
        texts = (
            (await connection.execute(sa.text("SELECT CAST(doc AS TEXT) FROM json_values_probe")))
            .scalars()
            .all()
        )
        await connection.execute(sa.text("DROP TABLE json_values_probe"))
    assert repr(read) == repr([json.loads(text) for text in texts])
    assert any(isinstance(value, int) and value > 2**64 for doc in read for value in doc.values())
