"""Value types: what they accept, what they refuse, and how they hash."""

import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contexts.domain.errors import InvalidInput
from contexts.domain.model import (
    Acl,
    Actor,
    Context,
    ContextDraft,
    ContextKey,
    LabelSelector,
    new_etag,
    parse_labels,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def make_context(**changes: object) -> Context:
    fields: dict[str, object] = {
        "key": ContextKey(namespace="ns", name="doc"),
        "version": 1,
        "kind": "config",
        "schema_version": 1,
        "body": {"a": 1},
        "labels": {"env": "prod"},
        "owner": "alice",
        "acl": Acl(),
        "created_at": NOW,
        "updated_at": NOW,
        "updated_by": "alice",
        "etag": new_etag(),
    }
    return Context.model_validate({**fields, **changes})


@pytest.mark.parametrize("name", ["a", "0", "my-app.v2_x", "a" * 63])
def test_valid_names_are_accepted(name: str) -> None:
    assert ContextKey(namespace=name, name=name).name == name


@pytest.mark.parametrize("name", ["", "A", "-a", ".a", "_a", "a/b", "a b", "a" * 64, "a\n", "é"])
def test_invalid_names_are_refused_with_the_field_named(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ContextKey.parse("ns", name)

    assert [error.loc for error in caught.value.errors] == [("name",)]


@pytest.mark.parametrize("key", ["env", "app.kubernetes.io/name", "a-b_c.d"])
def test_label_keys_of_the_documented_form_are_accepted(key: str) -> None:
    assert parse_labels({key: "x"}) == {key: "x"}


@pytest.mark.parametrize("key", ["", "Env", "-env", "env-", "a" * 64, "with space"])
def test_malformed_label_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_labels({key: "x"})

    assert caught.value.errors[0].loc[0] == "labels"


def test_too_many_labels_are_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_labels({f"k{i}": "v" for i in range(65)})


@pytest.mark.parametrize("entry", ["subject:alice", "group:editors", "subject:auth0|123"])
def test_acl_entries_name_a_subject_or_a_group(entry: str) -> None:
    assert Acl(readers=frozenset({entry})).readers == {entry}


@pytest.mark.parametrize("entry", ["alice", "user:alice", "group:", "subject:a b"])
def test_acl_entries_of_any_other_form_are_refused(entry: str) -> None:
    with pytest.raises(ValidationError):
        Acl(writers=frozenset({entry}))


def test_acl_dumps_sorted_so_its_hash_is_stable() -> None:
    acl = Acl(readers=frozenset({"subject:z", "group:a", "subject:b"}))

    assert acl.model_dump(mode="json")["readers"] == ["group:a", "subject:b", "subject:z"]


def test_actor_is_named_by_its_subject_and_each_group() -> None:
    actor = Actor(subject="carol", groups=frozenset({"editors", "ops"}))

    assert actor.acl_entries == {"subject:carol", "group:editors", "group:ops"}


def test_label_selector_parses_key_equals_value() -> None:
    selector = LabelSelector.parse("env=prod=eu")

    assert (selector.key, selector.value) == ("env", "prod=eu")
    assert selector.matches({"env": "prod=eu"})
    assert not selector.matches({"env": "prod"})


@pytest.mark.parametrize("selector", ["env", "=prod", "Env=prod"])
def test_malformed_label_selectors_are_invalid_input(selector: str) -> None:
    with pytest.raises(InvalidInput):
        LabelSelector.parse(selector)


def test_drafts_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ContextDraft.model_validate(
            {"kind": "config", "schema_version": 1, "body": {}, "owner": "mallory"}
        )


def test_content_hash_covers_content_but_not_bookkeeping() -> None:
    base = make_context()

    assert make_context(version=7, updated_by="bob").content_hash == base.content_hash
    changes: list[dict[str, object]] = [
        {"body": {"a": 2}},
        {"labels": {}},
        {"kind": "document"},
        {"schema_version": 2},
        {"owner": "bob"},
        {"acl": Acl(readers=frozenset({"subject:bob"}))},
        {"deleted": True},
    ]
    for change in changes:
        assert make_context(**change).content_hash != base.content_hash, change


def test_new_etags_are_strong_quoted_random_tags() -> None:
    etags = {new_etag() for _ in range(1000)}

    assert len(etags) == 1000
    assert all(re.fullmatch(r'"[0-9a-f]{32}"', etag) for etag in etags)


def test_the_etag_is_stored_with_a_version_not_computed_from_its_content() -> None:
    etag = new_etag()

    assert make_context(etag=etag).etag == etag
    assert make_context().etag != make_context().etag  # the same content, two versions


@pytest.mark.parametrize("etag", ["", "abc", '"abc"', 'W/"' + "a" * 32 + '"', '"' + "A" * 32 + '"'])
def test_contexts_refuse_a_malformed_etag(etag: str) -> None:
    with pytest.raises(ValidationError):
        make_context(etag=etag)


def test_contexts_refuse_naive_timestamps() -> None:
    with pytest.raises(ValidationError):
        make_context(created_at=datetime(2025, 1, 1))
