"""Write 3rdparty/python/reserved-names.yml: the names no service or lib may take.

Copier's Jinja cannot look at the Python environment, so this module does, from inside the
python-default resolve (its BUILD depends on all of it), and writes what it finds for the root
copier.yml's `name` validator (`_external_data.reserved`). A project's package is its name in
snake_case; the file lists, as such packages:

- `platform`: the names the repository itself uses (its layout, its test machinery);
- `keywords`: Python's keywords and soft keywords;
- `stdlib`: the standard library's top-level modules (`sys.stdlib_module_names`);
- `third_party`: every distribution locked in 3rdparty/python/default.lock, as a package name
  (`hypothesis-graphql` -> `hypothesis_graphql`), and every top-level module the installed ones
  provide (their `top_level.txt` and RECORD), each with the distributions behind it.

Only names a valid project name can become are kept (no `_yaml`, no `__future__`). Existing
services and libs are not listed: the validator looks for them in the destination's repository.
"""

from __future__ import annotations

import importlib.metadata
import json
import keyword
import re
import sys
from collections.abc import Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, TypedDict

import yaml

LOCKFILE = Path("3rdparty/python/default.lock")
RESERVED_FILE = Path("3rdparty/python/reserved-names.yml")
COMMAND = "./pants run tooling/cli/slipway_cli/reserved_names:generate"

# What a kebab-case project name (the validator's first rule) becomes as a package.
PACKAGE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

# The repository's own names: its layout and its test machinery. The validator refuses names
# starting with `slipway` (the namespace, every tooling package) by itself.
PLATFORM = (
    "slipway",
    "libs",
    "services",
    "templates",
    "tooling",
    "src",
    "tests",
    "test",
    "conftest",
    "main",
)

# `type` is a soft keyword from Python 3.12 on: keep it free for the next interpreter.
NEXT_SOFT_KEYWORDS = ("type",)

_WIDTH = 100
_SHOWN = 12


class ReservedNames(TypedDict):
    """The file's content: reserved packages by category; third-party ones name their sources."""

    platform: list[str]
    keywords: list[str]
    stdlib: list[str]
    third_party: dict[str, list[str]]


def canonical(distribution: str) -> str:
    """A distribution's normalized name (PEP 503): `Jinja2` -> `jinja2`, `rpds_py` -> `rpds-py`."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def as_package(distribution: str) -> str:
    """The package a project named like the distribution would have: `mcp-types` -> `mcp_types`."""
    return canonical(distribution).replace("-", "_")


def locked_distributions(lockfile_text: str) -> set[str]:
    """The canonical names of every distribution a Pants (pex) lockfile locks, on any platform."""
    body = "\n".join(line for line in lockfile_text.splitlines() if not line.startswith("//"))
    try:
        lock = json.loads(body)
        return {
            canonical(requirement["project_name"])
            for resolve in lock["locked_resolves"]
            for requirement in resolve["locked_requirements"]
        }
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a Pants lockfile: {error}") from error


def _module_of(parts: Sequence[str]) -> str | None:
    """The top-level module a file installed at `parts` (relative to site-packages) belongs to."""
    first = parts[0]
    if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".egg-info")):
        return None
    if len(parts) > 1:
        return first  # a package (or namespace) directory
    if first.endswith((".py", ".so", ".pyd")):
        return first.partition(".")[0]  # a module, pure (x.py) or compiled (x.cpython-311-....so)
    return None  # .pth files and other data


def _chroot_modules(distribution: importlib.metadata.Distribution) -> list[str | None]:
    """The modules next to `distribution`'s metadata when no other distribution is there.

    Pex installs each wheel into a directory of its own and drops its RECORD: there, what sits
    beside the `.dist-info` is what the wheel installed. In a shared site-packages, nothing.
    """
    try:
        entries = list(Path(str(distribution.locate_file(""))).iterdir())
    except OSError:
        return []
    if sum(entry.name.endswith(".dist-info") for entry in entries) != 1:
        return []
    return [_module_of((e.name, "") if e.is_dir() else (e.name,)) for e in entries]


def top_level_modules(distribution: importlib.metadata.Distribution) -> set[str]:
    """The top-level modules `distribution` installs: its top_level.txt, its RECORD, and for a
    pex-installed wheel (no RECORD) the directory it was installed into."""
    listed = (distribution.read_text("top_level.txt") or "").split()
    recorded = [_module_of(file.parts) for file in distribution.files or ()]
    found = {name.lower() for name in (*listed, *recorded, *_chroot_modules(distribution)) if name}
    return {name for name in found if PACKAGE.fullmatch(name)}


def installed_modules() -> dict[str, set[str]]:
    """The top-level modules of every distribution this interpreter sees, by canonical name."""
    modules: dict[str, set[str]] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            modules.setdefault(canonical(name), set()).update(top_level_modules(distribution))
    return modules


def third_party(locked: Iterable[str], installed: Mapping[str, Set[str]]) -> dict[str, list[str]]:
    """Each package a locked distribution reserves, by name or by module, with its sources.

    Distributions installed here but not locked (an exported virtualenv's pip) are ignored, so
    the result depends on the lockfile, not on the environment that happens to run this.
    """
    owners: dict[str, set[str]] = {}
    for distribution in locked:
        for package in {as_package(distribution), *installed.get(distribution, ())}:
            if PACKAGE.fullmatch(package):
                owners.setdefault(package, set()).add(distribution)
    return {package: sorted(owners[package]) for package in sorted(owners)}


def _packages(names: Iterable[str]) -> list[str]:
    return sorted({name.lower() for name in names if PACKAGE.fullmatch(name.lower())})


def compute(locked: Set[str], installed: Mapping[str, Set[str]]) -> ReservedNames:
    """Every reserved package, for the `locked` distributions with the modules `installed`."""
    return ReservedNames(
        platform=sorted(PLATFORM),
        keywords=_packages((*keyword.kwlist, *keyword.softkwlist, *NEXT_SOFT_KEYWORDS)),
        stdlib=_packages(sys.stdlib_module_names),
        third_party=third_party(locked, installed),
    )


def _scalar(value: str) -> str:
    """`value` as a YAML scalar: bare when YAML reads it back as the same string."""
    bare = yaml.safe_load(value) == value and not set(value) & set(",[]{}:#'\"")
    return value if bare else json.dumps(value)


def _flow_list(key: str, values: Sequence[str], indent: str = "") -> list[str]:
    """`key: [a, b, ...]`, on one line when it fits, else wrapped at the width."""
    items = [_scalar(value) for value in values]
    one_line = f"{indent}{key}: [{', '.join(items)}]"
    if len(one_line) <= _WIDTH:
        return [one_line]
    lines, current = [f"{indent}{key}: ["], f"{indent}  "
    for item in items:
        if len(current) + len(item) + 1 > _WIDTH:
            lines.append(current.rstrip())
            current = f"{indent}  "
        current += f"{item}, "
    lines.append(current.rstrip())
    return [*lines, f"{indent}]"]


def render(names: ReservedNames) -> str:
    """The file's text: a header saying where it comes from, then each category."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = [
        "# Names no service or lib may take, as packages (a project's name in snake_case).",
        "# The root copier.yml's `name` validator reads this file (existing projects it finds",
        "# in place). Generated from the python-default resolve on CPython "
        f"{version}: do not edit.",
        "# After changing 3rdparty/python/default.lock, regenerate it (a test fails while it",
        f"# is stale): {COMMAND}",
        "",
        "# The repository's own names (and, in the validator, everything starting with slipway).",
        *_flow_list("platform", names["platform"]),
        "# Python keywords and soft keywords: no package can be named after them.",
        *_flow_list("keywords", names["keywords"]),
        "# The standard library's top-level modules (sys.stdlib_module_names).",
        *_flow_list("stdlib", names["stdlib"]),
        "# Locked distributions as packages, and the top-level modules they install: each with the",
        "# distributions that reserve it.",
        "third_party:",
    ]
    for package, sources in names["third_party"].items():
        lines.extend(_flow_list(_scalar(package), sources, indent="  "))
    return "\n".join(lines) + "\n"


def _listing(names: Iterable[str]) -> str:
    shown = sorted(names)
    more = f" and {len(shown) - _SHOWN} more" if len(shown) > _SHOWN else ""
    return ", ".join(shown[:_SHOWN]) + more


def differences(
    committed: Any, expected: ReservedNames, unknown: Set[str] = frozenset()
) -> list[str]:
    """What the `committed` file lacks or holds too many of, one line per category.

    `unknown` are locked distributions not installed here (another platform's): the modules the
    committed file lists for them cannot be checked, so they do not count as stale.
    """
    if not isinstance(committed, Mapping):
        return ["the file does not hold a YAML mapping of categories"]
    problems: list[str] = []
    lists = {
        "platform": expected["platform"],
        "keywords": expected["keywords"],
        "stdlib": expected["stdlib"],
    }
    for key, wanted in lists.items():
        have, want = set(committed.get(key) or ()), set(wanted)
        if want - have:
            problems.append(f"{key}: missing {_listing(want - have)}")
        if have - want:
            problems.append(f"{key}: no longer reserved {_listing(have - want)}")
    have_tp: Mapping[str, Any] = committed.get("third_party") or {}
    want_tp = expected["third_party"]
    missing = [
        f"{package} ({', '.join(sorted(set(sources) - set(have_tp.get(package) or ())))})"
        for package, sources in want_tp.items()
        if not set(sources) <= set(have_tp.get(package) or ())
    ]
    stale = []
    for package, sources in have_tp.items():
        surplus = set(sources or ()) - set(want_tp.get(package, ())) - unknown
        if surplus:
            stale.append(f"{package} ({', '.join(sorted(surplus))})")
    if missing:
        problems.append(f"third_party: missing {_listing(missing)}")
    if stale:
        problems.append(f"third_party: no longer reserved {_listing(stale)}")
    return problems


def main() -> int:
    """Rewrite the reserved-names file of the repository in the working directory."""
    root = Path.cwd()
    lockfile = root / LOCKFILE
    if not lockfile.is_file():
        print(f"{lockfile} not found: run `{COMMAND}` from the repository.", file=sys.stderr)
        return 2
    locked = locked_distributions(lockfile.read_text(encoding="utf-8"))
    installed = installed_modules()
    names = compute(locked, installed)
    (root / RESERVED_FILE).write_text(render(names), encoding="utf-8")
    print(
        f"Wrote {RESERVED_FILE}: {len(names['third_party'])} third-party, "
        f"{len(names['stdlib'])} standard library, {len(names['keywords'])} keywords, "
        f"{len(names['platform'])} platform names."
    )
    not_installed = locked - installed.keys()
    if not_installed:
        print(
            f"Not installed here, so only their names are reserved: {_listing(not_installed)}.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
