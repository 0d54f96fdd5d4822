"""Template versions: PEP 440 release tags, and the `_commit` stamped into an answers file.

Copier records `_commit` as `git describe --tags --always` of the template: a tag (`v0.1.0`), a
tag plus distance (`v0.1.0-3-gabc1234`: three commits after v0.1.0) or, before any tag, a bare
commit hash. A project lags when the tag its `_commit` is based on is older than the newest tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

__all__ = ["TemplateVersion", "Version", "newest_tag", "parse_tag"]

_DESCRIBE = re.compile(r"^(?P<tag>.+)-(?P<distance>\d+)-g(?P<sha>[0-9a-f]{4,64})$")


def parse_tag(tag: str) -> Version | None:
    """The PEP 440 version a tag names (a leading `v` allowed), or None when it names none."""
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def newest_tag(tags: Iterable[str], *, prereleases: bool = False) -> tuple[str, Version] | None:
    """The tag with the highest PEP 440 version, with that version; None when no tag is one.

    Pre-releases are skipped unless `prereleases`, as `copier update` itself skips them.
    """
    versioned = [
        (tag, version)
        for tag in tags
        if (version := parse_tag(tag)) is not None and (prereleases or not version.is_prerelease)
    ]
    if not versioned:
        return None
    return max(versioned, key=lambda pair: pair[1])


@dataclass(frozen=True)
class TemplateVersion:
    """A parsed `_commit`: the release it is based on and how many commits it is past it.

    `base` is None when `_commit` names no PEP 440 release (a bare hash, a non-version tag).
    """

    commit: str
    base: Version | None
    distance: int = 0

    @classmethod
    def parse(cls, commit: str) -> TemplateVersion:
        """Parse a `_commit` value: `v1.2.0`, `v1.2.0-3-gabc1234` or a commit hash."""
        match = _DESCRIBE.match(commit)
        if match is not None:
            base = parse_tag(match["tag"])
            if base is not None:
                return cls(commit, base, int(match["distance"]))
        return cls(commit, parse_tag(commit))

    def lags(self, newest: Version) -> bool:
        """Whether this version is older than the release `newest`.

        A describe form is at or after its base tag, so it lags only when its base does; an
        unknown base (stamped before any release tag) always lags.
        """
        return self.base is None or self.base < newest

    def __str__(self) -> str:
        return self.commit
