"""Rows to `Context`s: `to_context` builds what `model_construct` would, without its walk."""

import copy
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from contexts.adapters.sql.rows import _as_written, _trusted, to_context
from contexts.domain.model import Acl, Context, ContextKey

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def reference(row: tuple[Any, ...]) -> Context:
    """What `to_context` returned when it used pydantic's `model_construct`."""
    (ns, name, version, kind, schema, body, labels, owner, acl, deleted, etag, _hash, *times) = row
    created_at, updated_at, updated_by = times
    return Context.model_construct(
        key=ContextKey.model_construct(namespace=ns, name=name),
        version=version,
        kind=kind,
        schema_version=schema,
        body=_as_written(body),
        labels=labels,
        owner=owner,
        acl=Acl.model_construct(
            readers=frozenset(acl.get("readers", ())), writers=frozenset(acl.get("writers", ()))
        ),
        deleted=deleted,
        created_at=created_at,
        updated_at=updated_at,
        updated_by=updated_by,
        etag=etag,
    )


def rows() -> list[tuple[Any, ...]]:
    acls: list[dict[str, Any]] = [
        {},
        {"readers": [], "writers": []},
        {"readers": ["group:a", "subject:b"]},
        {"writers": ["subject:\u00e9"]},  # an entry from before today's pattern
        {"readers": ["*"], "writers": ["group:ops"]},
    ]
    bodies: list[dict[str, Any]] = [
        {},
        {"content": "x"},
        {"big": 10**20, "n": [1, 2**60, {"deep": -(10**400)}], "f": 1.5},
        {"nested": {"a": [{"b": None, "c": True}]}},
    ]
    out = []
    for i in range(40):
        out.append(
            (
                f"ns{i % 3}",
                f"name-{i}",
                i + 1,
                ("document", "config")[i % 2],
                1 + i % 2,
                bodies[i % len(bodies)],
                {} if i % 3 else {"env": "prod", "team": f"t{i}"},
                f"subject:o{i}",
                acls[i % len(acls)],
                i % 7 == 0,
                f"etag-{i}",
                "hash",
                AT,
                AT + timedelta(seconds=i),
                f"subject:u{i}",
            )
        )
    return out


@pytest.mark.parametrize("row", rows(), ids=lambda row: row[1])
def test_to_context_is_the_instance_model_construct_builds(row: tuple[Any, ...]) -> None:
    built, expected = to_context(row), reference(row)

    assert built == expected
    for got, want in ((built, expected), (built.key, expected.key), (built.acl, expected.acl)):
        assert type(got) is type(want)
        assert list(got.__dict__) == list(want.__dict__)  # field order: dumps follow it
        assert got.__dict__ == want.__dict__
        assert got.__pydantic_fields_set__ == want.__pydantic_fields_set__
        assert got.__pydantic_extra__ == want.__pydantic_extra__
        assert got.__pydantic_private__ == want.__pydantic_private__
    assert hash(built.key) == hash(expected.key)
    assert hash(built.acl) == hash(expected.acl)
    assert built.model_dump_json() == expected.model_dump_json()
    assert built.content_hash == expected.content_hash
    assert built.model_copy(update={"version": 99}) == expected.model_copy(update={"version": 99})
    assert copy.deepcopy(built) == expected
    assert pickle.loads(pickle.dumps(built)) == expected  # noqa: S301 - our own bytes


def test_each_built_instance_has_its_own_fields_set() -> None:
    first, second = to_context(rows()[0]), to_context(rows()[0])

    assert first.__pydantic_fields_set__ is not second.__pydantic_fields_set__


def test_a_built_context_stays_frozen() -> None:
    context = to_context(rows()[1])

    with pytest.raises(ValidationError):
        context.version = 7  # type: ignore[misc]


class _Private(BaseModel):
    value: int
    _seen: int = PrivateAttr(default=0)


class _PostInit(BaseModel):
    value: int

    def model_post_init(self, context: Any, /) -> None:
        pass


class _Extra(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: int


@pytest.mark.parametrize("model", [_Private, _PostInit, _Extra])
def test_models_model_construct_does_more_for_are_refused(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError, match="needs model_construct"):
        _trusted(model)
