"""A clone of the repository's HEAD, with no tags, where templates are stamped and built.

The clone is the repository as it ships (only main's history: no tags, no other branches), plus
the working tree's uncommitted changes as one more commit when there are any. It shares Pants'
caches (lmdb store, named caches) with the real checkout, so its Pants runs reuse everything
already built; only the rendered projects are new work.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GIT_IDENTITY = (
    "-c",
    "user.name=Slipway template tests",
    "-c",
    "user.email=template-tests@slipway.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
)


class StepFailedError(Exception):
    """A command the scenario needed did not behave as expected."""


@dataclass
class Result:
    """What a finished command returned and printed."""

    args: Sequence[str]
    returncode: int
    output: str


@dataclass
class Workspace:
    """The scratch repository and the commands run in it."""

    root: Path
    copier: Path
    log_lines: list[str] = field(default_factory=list)

    def run(
        self,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        quiet: bool = False,
        prefix: Sequence[str] = (),
    ) -> Result:
        """Run a command in the scratch repo; raise StepFailedError when `check` and it fails.

        `prefix` goes right after the program name and is not echoed (git's identity options).
        """
        shown = " ".join(args)
        print(f"   $ {shown}", flush=True)
        completed = subprocess.run(  # noqa: S603 - the commands are this tool's own
            [args[0], *prefix, *args[1:]],
            cwd=self.root,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        result = Result(args=args, returncode=completed.returncode, output=completed.stdout)
        if not quiet or completed.returncode != 0:
            self._echo(completed.stdout)
        if check and completed.returncode != 0:
            raise StepFailedError(f"`{shown}` exited with {completed.returncode}")
        return result

    def git(self, *args: str, check: bool = True) -> Result:
        """Run git with a fixed identity, so commits work on any machine."""
        return self.run("git", *args, check=check, quiet=True, prefix=GIT_IDENTITY)

    def pants(self, *args: str, check: bool = True) -> Result:
        """Run the scratch repo's own ./pants launcher."""
        return self.run("./pants", *args, check=check)

    def slipway(self, *args: str, check: bool = True) -> Result:
        """Run the slipway CLI through Pants, as the README documents."""
        return self.run("./pants", "run", "tooling/cli", "--", *args, check=check)

    def commit_all(self, message: str) -> None:
        """Stage everything and commit it."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)

    def release(self, change: str) -> str:
        """Record a template release for the committed-to-be template change: a new top entry
        in templates/releases.yml, one minor version up; returns the version. The caller
        commits it with the change, as the release procedure says."""
        record = self.root / "templates" / "releases.yml"
        text = record.read_text(encoding="utf-8")
        match = re.search(r"^  - version: (\d+)\.(\d+)\.(\d+)$", text, re.MULTILINE)
        if match is None:
            raise StepFailedError("templates/releases.yml has no top `- version: X.Y.Z` entry")
        version = f"{match[1]}.{int(match[2]) + 1}.0"
        entry = f"  - version: {version}\n    changes: [{change!r}]\n"
        record.write_text(text[: match.start()] + entry + text[match.start() :], encoding="utf-8")
        return version

    def changed_paths(self) -> list[str]:
        """Paths `git status` reports as changed or new, relative to the repo root."""
        out = self.git("status", "--porcelain", "--untracked-files=all").output
        return sorted(line[3:].strip() for line in out.splitlines() if line.strip())

    def _echo(self, text: str) -> None:
        for line in text.rstrip().splitlines()[-60:]:
            print(f"     {line}", flush=True)


def uncommitted_files(source: Path) -> list[str]:
    """Files of the working tree that differ from HEAD: modified, added or untracked (not
    ignored), so a developer's template tests see their edits."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames"],  # noqa: S607
        cwd=source,
        stdout=subprocess.PIPE,
        check=True,
    ).stdout.decode()
    return sorted(entry[3:] for entry in listed.split("\0") if entry)


def create(source: Path, copier: Path, parent: Path | None = None) -> Workspace:
    """Clone `source`'s HEAD with no tags onto a branch `main`; commit its uncommitted work."""
    base = Path(tempfile.mkdtemp(prefix="slipway-template-tests-", dir=parent))
    root = base / "repo"
    workspace = Workspace(root=base, copier=copier)
    workspace.git("clone", "--quiet", "--no-tags", "--no-hardlinks", str(source), str(root))
    workspace.root = root
    head = workspace.git("-C", str(source), "rev-parse", "HEAD").output.strip()
    workspace.git("checkout", "--quiet", "-B", "main", head)
    if workspace.git("tag", "--list").output.strip():
        raise StepFailedError("the clone has tags: it would not be the repository as it ships")
    changed = uncommitted_files(source)
    for relative in changed:
        target = root / relative
        if (source / relative).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, target)
        elif target.exists():
            target.unlink()
    if changed:
        workspace.commit_all("The working tree under test (uncommitted in the checkout)")
    return workspace


def stop_pantsd(workspace: Workspace) -> None:
    """Stop the scratch repo's Pants daemon, which would otherwise outlive the run."""
    for pidfile in (workspace.root / ".pids").glob("*/pantsd/pid"):
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        except (ValueError, OSError):
            continue


def remove(workspace: Workspace) -> None:
    """Delete the scratch repo."""
    shutil.rmtree(workspace.root.parent, ignore_errors=True)


def fail(message: str) -> None:
    """Print a one-line failure and exit non-zero."""
    print(f"template tests: {message}", file=sys.stderr)
    raise SystemExit(1)
