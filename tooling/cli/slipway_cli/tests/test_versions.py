"""Release tags and `_commit` values: parsing, the newest tag, and what lags behind it."""

import pytest

from slipway_cli.versions import TemplateVersion, Version, newest_tag, parse_tag


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("v1.2.3", "1.2.3"), ("1.2.3", "1.2.3"), ("v2.0.0rc1", "2.0.0rc1"), ("v1", "1")],
)
def test_parse_tag_reads_pep440_with_or_without_v(tag: str, expected: str) -> None:
    assert parse_tag(tag) == Version(expected)


@pytest.mark.parametrize("tag", ["release-candidate", "latest", "v1.2.3-foo", ""])
def test_parse_tag_rejects_non_versions(tag: str) -> None:
    assert parse_tag(tag) is None


def test_newest_tag_sorts_by_version_not_by_text() -> None:
    assert newest_tag(["v0.9.0", "v0.10.0", "v0.2.0", "nightly"]) == ("v0.10.0", Version("0.10"))


def test_newest_tag_skips_prereleases_unless_asked() -> None:
    tags = ["v1.0.0", "v2.0.0rc1"]
    assert newest_tag(tags) == ("v1.0.0", Version("1.0.0"))
    assert newest_tag(tags, prereleases=True) == ("v2.0.0rc1", Version("2.0.0rc1"))


def test_newest_tag_is_none_without_version_tags() -> None:
    assert newest_tag([]) is None
    assert newest_tag(["nightly", "stable"]) is None


def test_template_version_parses_a_tag() -> None:
    parsed = TemplateVersion.parse("v0.1.0")
    assert (parsed.base, parsed.distance) == (Version("0.1.0"), 0)


def test_template_version_parses_git_describe() -> None:
    parsed = TemplateVersion.parse("v0.1.0-3-gabc1234")
    assert (parsed.base, parsed.distance) == (Version("0.1.0"), 3)
    assert str(parsed) == "v0.1.0-3-gabc1234"


def test_template_version_of_a_bare_hash_is_unknown() -> None:
    assert TemplateVersion.parse("abc1234").base is None
    assert TemplateVersion.parse("").base is None


@pytest.mark.parametrize(
    ("commit", "newest", "lags"),
    [
        ("v0.1.0", "0.1.0", False),
        ("v0.1.0", "0.2.0", True),
        ("v0.2.0", "0.1.0", False),
        ("v0.1.0-3-gabc1234", "0.1.0", False),  # three commits after the newest release
        ("v0.1.0-3-gabc1234", "0.2.0", True),
        ("v0.10.0", "0.9.0", False),
        ("abc1234", "0.1.0", True),  # stamped before any release
    ],
)
def test_lags(commit: str, newest: str, lags: bool) -> None:
    assert TemplateVersion.parse(commit).lags(Version(newest)) is lags
