"""Read `.pre-commit-config.yaml` and a Pants lockfile, to check that they agree.

The functions here only read and normalise; the assertions live in the tests.
"""

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?P<spec>.*)$"
)
_EXACT_PIN = re.compile(r"^===?\s*(?P<version>[^\s,;]+)$")


def normalize_name(name: str) -> str:
    """The PEP 503 normal form of a distribution name: `PyYAML` and `pyyaml` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """A requirement string split into a normalised name and its version specifier."""

    name: str
    specifier: str

    @property
    def pinned_version(self) -> str | None:
        """The version for an exact pin (`==1.2.3`), else None (ranges are not pins)."""
        match = _EXACT_PIN.match(self.specifier)
        return match["version"] if match else None


def parse_requirement(text: str) -> Requirement:
    """Split `name[extras] <specifier>` (environment markers are kept in the specifier)."""
    match = _REQUIREMENT.match(text)
    if match is None:
        raise ValueError(f"not a requirement: {text!r}")
    return Requirement(name=normalize_name(match["name"]), specifier=match["spec"].strip())


@dataclass(frozen=True)
class Hook:
    """One hook of `.pre-commit-config.yaml`, with the repository that provides it."""

    repo: str
    id: str
    entry: str
    language: str
    files: str
    stages: tuple[str, ...]
    additional_dependencies: tuple[str, ...]
    args: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        """The program the hook runs: the first word of its entry."""
        words = self.entry.split()
        return words[0] if words else ""

    def requirements(self) -> list[Requirement]:
        return [parse_requirement(dep) for dep in self.additional_dependencies]

    def pins_of(self, project: str) -> list[str]:
        """The specifiers this hook gives `project` in additional_dependencies."""
        wanted = normalize_name(project)
        return [req.specifier for req in self.requirements() if req.name == wanted]

    def pinned_versions_of(self, project: str) -> list[str | None]:
        """For each requirement on `project`: its exact pin, or None where it is not one."""
        wanted = normalize_name(project)
        return [req.pinned_version for req in self.requirements() if req.name == wanted]

    def runs_at(self, stage: str, default_stages: Sequence[str] = ()) -> bool:
        """Whether the hook runs at `stage` (no stages anywhere means every stage)."""
        stages = self.stages or tuple(default_stages)
        return not stages or stage in stages


def load_config(path: Path) -> dict[str, Any]:
    """The parsed pre-commit configuration; its top level must be a mapping."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} must be a list of strings, not {value!r}")
    return tuple(value)


def iter_hooks(config: Mapping[str, Any]) -> Iterator[Hook]:
    """Every hook of every repository, in file order."""
    for repo in config.get("repos") or []:
        repo_name = str(repo.get("repo", ""))
        for hook in repo.get("hooks") or []:
            hook_id = str(hook.get("id", ""))
            yield Hook(
                repo=repo_name,
                id=hook_id,
                entry=str(hook.get("entry", "")),
                language=str(hook.get("language", "")),
                files=str(hook.get("files", "")),
                stages=_strings(hook.get("stages"), f"hook {hook_id}: stages"),
                additional_dependencies=_strings(
                    hook.get("additional_dependencies"),
                    f"hook {hook_id}: additional_dependencies",
                ),
                args=_strings(hook.get("args"), f"hook {hook_id}: args"),
            )


def remote_repos(config: Mapping[str, Any]) -> list[str]:
    """Hook repositories pre-commit would have to fetch: anything but `repo: local`."""
    return [
        str(repo.get("repo")) for repo in config.get("repos") or [] if repo.get("repo") != "local"
    ]


def read_pants_lockfile(path: Path) -> dict[str, Any]:
    """A Pants lockfile: JSON after a header of `//` comment lines."""
    body = "\n".join(
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("//")
    )
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def locked_versions(lockfile: Mapping[str, Any]) -> dict[str, set[str]]:
    """Normalised project name -> the versions locked for it (one per resolve target)."""
    versions: dict[str, set[str]] = {}
    for resolve in lockfile.get("locked_resolves", []):
        for locked in resolve.get("locked_requirements", []):
            name = normalize_name(str(locked["project_name"]))
            versions.setdefault(name, set()).add(str(locked["version"]))
    return versions


def locked_version(lockfile: Mapping[str, Any], project: str) -> str:
    """The single version of `project` in the lockfile."""
    versions = locked_versions(lockfile).get(normalize_name(project), set())
    if len(versions) != 1:
        raise LookupError(f"expected one locked version of {project}, found {sorted(versions)}")
    (version,) = versions
    return version
