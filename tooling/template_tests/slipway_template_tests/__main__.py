"""Run the template scenarios: `python3 -m slipway_template_tests [--keep] [--copier PATH]`.

Clones HEAD with no tags (the repository as it ships; uncommitted work becomes one more commit),
then: (0) every shipped project is current and `update --all` / plain `copier update` change
nothing; (a) stamps services and a lib at the current release and runs their
tailor/lint/check/test, serves one, and proves a layering violation fails the build; (b)
releases a template change (a new file, a changed line): drift fails, update brings it into
every project; (c) releases a change to a line a service edited: conflicts inline, reported,
refused by pre-commit; (d) plain `copier update` records the newest release's commit. Exits
non-zero on the first failure, naming it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from slipway_template_tests import scenarios, workspace

Scenario = Callable[[workspace.Workspace], None]

SCENARIOS: tuple[tuple[str, Scenario], ...] = (
    ("the repository as it ships: every project current, updates are no-ops", scenarios.as_shipped),
    ("render, build and serve every answer combination", scenarios.render),
    ("update to a new template release", scenarios.update),
    ("conflicting update", scenarios.conflict),
    ("plain copier update", scenarios.plain_update),
)


def exported_copier(ws: workspace.Workspace) -> Path:
    """Copier from the lockfile, through `./pants export` in the scratch repo."""
    ws.pants("export", "--resolve=python-default")
    found = sorted((ws.root / "dist/export/python/virtualenvs/python-default").glob("*/bin/copier"))
    if not found:
        workspace.fail("`./pants export` produced no copier executable")
    return found[-1]


def main() -> None:
    """Parse arguments, run every scenario, print a summary."""
    parser = argparse.ArgumentParser(prog="slipway_template_tests", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the scratch repo for debugging")
    parser.add_argument("--copier", type=Path, help="copier executable (default: from the lock)")
    options = parser.parse_args()

    source = scenarios.project_root(Path.cwd())
    ws = workspace.create(source, copier=options.copier or Path("copier"))
    print(f"template tests: scratch repo {ws.root}", flush=True)
    timings: list[tuple[str, float]] = []
    title = "export copier from the lockfile"
    try:
        if options.copier is None:
            ws.copier = exported_copier(ws)
        for title, scenario in SCENARIOS:
            print(f"\n== {title}", flush=True)
            started = time.monotonic()
            scenario(ws)
            timings.append((title, time.monotonic() - started))
    except workspace.StepFailedError as error:
        workspace.fail(f"FAILED in '{title}': {error} (scratch repo kept at {ws.root})")
    finally:
        workspace.stop_pantsd(ws)
    print("\ntemplate tests passed:")
    for title, seconds in timings:
        print(f"  {seconds:6.0f} s  {title}")
    if not options.keep:
        workspace.remove(ws)


if __name__ == "__main__":
    main()
