"""The release record: parsing templates/releases.yml."""

import pytest
from packaging.version import Version

from slipway_cli import releases


def test_entries_are_newest_first_with_optional_commits() -> None:
    text = "releases:\n  - version: 0.2.0\n  - version: 0.1.0\n    commit: " + "a" * 40 + "\n"
    assert releases.parse_entries(text) == [
        releases.Entry(Version("0.2.0"), None),
        releases.Entry(Version("0.1.0"), "a" * 40),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("releases: []\n", "non-empty list"),
        ("releases:\n  - version: v1.0.0\n", "without a leading|like 0.2.0"),
        ("releases:\n  - version: one\n", "not a PEP 440 version"),
        ("releases:\n  - version: 1.0.0\n  - version: 2.0.0\n", "newest first"),
        ("releases:\n  - version: 1.0.0\n  - version: 1.0.0\n", "newest first"),
        ("releases:\n  - version: 1.0.0\n    commit: abc123\n", "not a full hash"),
        ("releases: [\n", "not valid YAML"),
    ],
)
def test_a_bad_record_is_one_message(text: str, message: str) -> None:
    with pytest.raises(releases.ReleaseError, match=message):
        releases.parse_entries(text)
