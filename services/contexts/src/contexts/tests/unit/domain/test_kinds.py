"""Kinds: versioned schemas, validation, upgrades and schema export."""

import pytest
from pydantic import BaseModel

from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.errors import InvalidBody, UnknownKind
from contexts.domain.kinds import KindInfo, KindRegistry
from contexts.domain.model import JsonObject


class NoteV1(BaseModel):
    text: str


class NoteV2(BaseModel):
    text: str
    pinned: bool


class NoteV3(BaseModel):
    text: str
    pinned: bool
    color: str = "yellow"


def notes() -> KindRegistry:
    registry = KindRegistry()
    registry.register("note", 1, NoteV1)
    registry.register("note", 2, NoteV2, lambda body: {**body, "pinned": False})
    registry.register("note", 3, NoteV3)  # v2 bodies are valid v3 bodies as they are
    return registry


def test_validate_returns_the_body_normalized_by_its_schema() -> None:
    body = default_kinds().validate("document", 1, {"content": "hi"})

    assert body == {"content": "hi", "format": "text", "title": None}


def test_invalid_bodies_raise_invalid_body_naming_each_field() -> None:
    with pytest.raises(InvalidBody) as caught:
        default_kinds().validate("document", 1, {"format": "pdf", "extra": 1})

    assert {error.loc for error in caught.value.errors} == {
        ("body", "content"),
        ("body", "format"),
        ("body", "extra"),
    }
    assert caught.value.code == "invalid_body"


def test_unknown_kinds_and_versions_raise_unknown_kind() -> None:
    kinds = default_kinds()

    with pytest.raises(UnknownKind, match="unknown kind"):
        kinds.validate("spreadsheet", 1, {})
    with pytest.raises(UnknownKind, match="no schema version 3"):
        kinds.validate("agent-profile", 3, {})
    with pytest.raises(UnknownKind):
        kinds.validate("document", 0, {})


def test_schema_versions_must_be_registered_in_order_from_one() -> None:
    registry = KindRegistry()

    with pytest.raises(ValueError, match="expected schema version 1"):
        registry.register("note", 2, NoteV2)
    registry.register("note", 1, NoteV1)
    with pytest.raises(ValueError, match="expected schema version 2"):
        registry.register("note", 1, NoteV1)


def test_version_one_cannot_declare_an_upgrade() -> None:
    with pytest.raises(ValueError, match="no previous version"):
        KindRegistry().register("note", 1, NoteV1, lambda body: body)


def test_old_versions_stay_valid_after_a_new_one_is_added() -> None:
    assert notes().validate("note", 1, {"text": "x"}) == {"text": "x"}


def test_upgrade_chains_each_step_to_the_newest_version() -> None:
    assert notes().upgrade("note", 1, {"text": "x"}) == (
        3,
        {"text": "x", "pinned": False, "color": "yellow"},
    )


def test_upgrade_from_the_newest_version_only_normalizes() -> None:
    assert notes().upgrade("note", 3, {"text": "x", "pinned": True}) == (
        3,
        {"text": "x", "pinned": True, "color": "yellow"},
    )


def test_upgrade_does_not_modify_the_stored_body() -> None:
    stored: JsonObject = {"text": "x"}

    notes().upgrade("note", 1, stored)

    assert stored == {"text": "x"}


def test_agent_profile_v1_upgrades_to_v2_with_tool_grants_and_turn_limit() -> None:
    v1: JsonObject = {"display_name": "Helper", "model": "m-1", "tools": ["search", "calc"]}

    version, body = default_kinds().upgrade("agent-profile", 1, v1)

    assert version == 2
    assert body["tools"] == [{"name": "search", "scopes": []}, {"name": "calc", "scopes": []}]
    assert body["max_turns"] == 20


def test_config_accepts_any_json_object_but_not_other_json() -> None:
    kinds = default_kinds()

    assert kinds.validate("config", 1, {"nested": {"list": [1, None]}}) == {
        "nested": {"list": [1, None]}
    }
    with pytest.raises(InvalidBody):
        kinds.validate("config", 1, [1, 2])


def test_registry_lists_kinds_with_their_versions() -> None:
    assert default_kinds().kinds() == [
        KindInfo("agent-profile", (1, 2)),
        KindInfo("config", (1,)),
        KindInfo("document", (1,)),
    ]
    assert default_kinds().kinds()[0].latest_version == 2


def test_each_version_exports_its_json_schema() -> None:
    kinds = default_kinds()

    v1 = kinds.get("agent-profile", 1).json_schema()
    v2 = kinds.get("agent-profile", 2).json_schema()

    assert isinstance(v1["properties"], dict)
    assert isinstance(v2["properties"], dict)
    assert "max_turns" not in v1["properties"]
    assert "max_turns" in v2["properties"]
    assert v1["required"] == ["display_name", "model"]
