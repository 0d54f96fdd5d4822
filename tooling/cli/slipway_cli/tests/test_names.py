"""Project name validation and the reserved names read from the root copier.yml."""

from pathlib import Path

import pytest

from slipway_cli.commands.new import parse_data
from slipway_cli.errors import SlipwayError
from slipway_cli.names import NAME_PATTERN, reserved_names, reserving_category, validate_new_name


@pytest.mark.parametrize("name", ["billing", "order-history", "a", "v2", "api-v2-beta"])
def test_kebab_case_names_are_valid(name: str) -> None:
    assert NAME_PATTERN.fullmatch(name)


@pytest.mark.parametrize(
    "name",
    ["BadName", "bad_name", "-lead", "trail-", "double--hyphen", "2fa", "", "a b", "é"],
)
def test_other_names_are_invalid(name: str) -> None:
    assert not NAME_PATTERN.fullmatch(name)


def test_reserved_names_from_the_hidden_question(tmp_path: Path) -> None:
    copier_yml = tmp_path / "copier.yml"
    copier_yml.write_text(
        "_subdirectory: templates/{{ template }}\n"
        "_external_data:\n  shared: !include shared.yml\n"  # Copier's own tag must not break us
        "name: {type: str, help: kebab-case}\n"
        "reserved_names:\n  type: yaml\n  when: false\n  default: [platform, web]\n",
        encoding="utf-8",
    )
    assert reserved_names(copier_yml) == {"reserved": {"platform", "web"}}


def test_reserved_names_default_may_be_a_yaml_string(tmp_path: Path) -> None:
    copier_yml = tmp_path / "copier.yml"
    copier_yml.write_text(
        "reserved_names:\n  type: yaml\n  when: false\n  default: '[a, b]'\n", encoding="utf-8"
    )
    assert reserved_names(copier_yml) == {"reserved": {"a", "b"}}


def test_no_copier_yml_or_no_question_reserves_nothing(tmp_path: Path) -> None:
    assert reserved_names(tmp_path / "missing.yml") == {}
    (tmp_path / "copier.yml").write_text("name: {type: str}\n", encoding="utf-8")
    assert reserved_names(tmp_path / "copier.yml") == {}


CATEGORIES = (
    "reserved_names:\n  type: yaml\n  when: false\n  default:\n"
    "    platform: [slipway, tooling]\n"
    "    libs: [config, web]\n"
    "    third_party: [jinja2_ansible_filters, httpx]\n"
)


def test_reserved_names_by_category(tmp_path: Path) -> None:
    copier_yml = tmp_path / "copier.yml"
    copier_yml.write_text(CATEGORIES, encoding="utf-8")
    reserved = reserved_names(copier_yml)
    assert reserved == {
        "platform": {"slipway", "tooling"},
        "libs": {"config", "web"},
        "third_party": {"jinja2_ansible_filters", "httpx"},
    }
    assert reserving_category("service", "tooling", reserved) == "platform"
    assert reserving_category("service", "httpx", reserved) == "third_party"
    # A name is also checked as the package it becomes: kebab-case to snake_case.
    assert reserving_category("lib", "jinja2-ansible-filters", reserved) == "third_party"
    # A category named after a project folder reserves names for that kind only.
    assert reserving_category("lib", "config", reserved) == "libs"
    assert reserving_category("service", "config", reserved) is None
    assert reserving_category("service", "billing", reserved) is None


def test_a_malformed_reserved_names_default_is_an_error(tmp_path: Path) -> None:
    copier_yml = tmp_path / "copier.yml"
    copier_yml.write_text("reserved_names: {type: yaml, default: 3}\n", encoding="utf-8")
    with pytest.raises(SlipwayError, match="must be a YAML list"):
        reserved_names(copier_yml)


def test_a_reserved_name_is_refused(tmp_path: Path) -> None:
    reserved = {"platform": frozenset({"platform"})}
    with pytest.raises(SlipwayError, match=r"'platform' is reserved for a lib .*platform"):
        validate_new_name(tmp_path, "lib", "platform", reserved)


@pytest.mark.parametrize("taken", ["services/billing", "libs/billing"])
def test_a_taken_name_is_refused_for_either_kind(tmp_path: Path, taken: str) -> None:
    (tmp_path / taken).mkdir(parents=True)
    with pytest.raises(SlipwayError, match=f"{taken} already exists"):
        validate_new_name(tmp_path, "service", "billing", {})


def test_an_invalid_name_is_refused_with_an_example(tmp_path: Path) -> None:
    with pytest.raises(SlipwayError, match="kebab-case"):
        validate_new_name(tmp_path, "service", "Billing_API", {})


def test_a_free_valid_name_passes(tmp_path: Path) -> None:
    (tmp_path / "services" / "other").mkdir(parents=True)
    validate_new_name(tmp_path, "service", "billing", {"platform": frozenset({"platform"})})


def test_parse_data() -> None:
    assert parse_data(["owner=team-a", "port=8080", "motto=a=b"]) == {
        "owner": "team-a",
        "port": "8080",
        "motto": "a=b",
    }


@pytest.mark.parametrize("pair", ["novalue", "=value", "name=x", "template=lib"])
def test_parse_data_refuses_malformed_or_owned_keys(pair: str) -> None:
    with pytest.raises(SlipwayError):
        parse_data([pair])
