"""The three template scenarios: render and build, update, conflict.

Each scenario runs in the same scratch repository, one after the other, because each starts from
the state the previous one committed (stamped at v1, updated to v2, conflicting at v3).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from slipway_template_tests.workspace import StepFailedError, Workspace


@dataclass(frozen=True)
class Stamp:
    """One project to stamp: its kind, name and answers."""

    kind: str
    name: str
    data: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """Where the project lands, relative to the repo root."""
        return f"{'services' if self.kind == 'service' else 'libs'}/{self.name}"

    def data_args(self) -> list[str]:
        """The answers as `--data k=v` arguments."""
        return [arg for key, value in self.data for arg in ("--data", f"{key}={value}")]


# Stamped through the slipway CLI. A further service is stamped with plain `copier copy`.
CLI_STAMPS = (
    Stamp(
        "service",
        "svc-all",
        (
            ("team", "payments"),
            ("database", "true"),
            ("redis", "true"),
            ("events", "true"),
            ("port", "8731"),
        ),
    ),
    Stamp(
        "service",
        "svc-db",
        (
            ("team", "payments"),
            ("database", "true"),
            # Long, with quotes and non-ASCII: it lands in docstrings, openapi.json and main.py.
            (
                "description",
                'Keeps the "ledger" of every payment\'s state & history, <reconciled> nightly '
                "against the bank's statements — the source of truth for finance and for audits",
            ),
        ),
    ),
    Stamp("service", "svc-events", (("team", "search"), ("redis", "true"), ("events", "true"))),
    Stamp("lib", "ledger-kit", (("team", "platform"), ("description", "Ledger helpers"))),
)
# Every switch at its default; `team` has none, so it is always answered.
PLAIN = Stamp("service", "svc-plain", (("team", "platform"),))
UPDATED = CLI_STAMPS[0]

ADDED_TEMPLATE_FILE = "templates/service/RUNBOOK.md.jinja"
CHANGED_TEMPLATE_FILE = "templates/service/README.md.jinja"
CHANGED_PROJECT_FILE = "README.md"


def render(ws: Workspace) -> None:
    """(a) Stamp every answer combination at v1, then tailor, lint, check and test them."""
    ws.tag("v1.0.0")
    ws.run(
        str(ws.copier), "copy", "--trust", "--defaults", "--data", "template=service",
        *PLAIN.data_args(), ".", PLAIN.path,
    )  # fmt: skip
    for stamp in CLI_STAMPS:
        ws.slipway("new", stamp.kind, stamp.name, "--defaults", *stamp.data_args())
    targets = [f"{stamp.path}::" for stamp in (PLAIN, *CLI_STAMPS)]
    ws.pants("tailor", "--check", "update-build-files", "--check", *targets)
    ws.pants("lint", "check", "test", *targets)
    ws.commit_all("Stamp services and a lib at templates v1.0.0")
    refused_names(ws)
    serve(ws, UPDATED)
    layering_violation_fails(ws)


def refused_names(ws: Workspace) -> None:
    """Invalid and clashing names are refused before anything is written."""
    for kind, name in (("service", "Billing"), ("service", "json"), ("lib", "config")):
        result = ws.slipway("new", kind, name, "--defaults", "--data", "team=x", check=False)
        if result.returncode == 0 or "Traceback" in result.output:
            raise StepFailedError(f"`slipway new {kind} {name}` was not refused cleanly")
    existing = ws.slipway(
        "new", "service", UPDATED.name, "--defaults", "--data", "team=x", check=False
    )
    if existing.returncode == 0 or "Traceback" in existing.output:
        raise StepFailedError("stamping over an existing service was not refused cleanly")
    if ws.changed_paths():
        raise StepFailedError(f"a refused `new` left files behind: {ws.changed_paths()}")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(ws: Workspace, stamp: Stamp) -> None:
    """`./pants run services/<name>:serve` answers /health, /ready, /metrics and /docs.

    On a free port (through the service's own `<PACKAGE>_WEB__PORT`), so that nothing else
    listening on the stamped port can answer in its place.
    """
    port = free_port()
    port_variable = f"{stamp.name.replace('-', '_').upper()}_WEB__PORT"
    log = ws.root.parent / f"serve-{stamp.name}.log"
    print(f"   $ ./pants run {stamp.path}:serve  (in the background, output in {log})", flush=True)
    process = subprocess.Popen(  # noqa: S603
        ["./pants", "run", f"{stamp.path}:serve"],
        cwd=ws.root,
        # No daemon: the served process must be a child of this one, so killing the process
        # group stops it (under pantsd it would be the daemon's child).
        env={**os.environ, "PANTS_PANTSD": "false", port_variable: str(port)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for path in ("/health", "/ready", "/metrics", "/docs"):
            status = _wait_for(f"http://127.0.0.1:{port}{path}", deadline=time.monotonic() + 180)
            print(f"     GET {path} -> {status}", flush=True)
            if status != 200:
                raise StepFailedError(f"{stamp.path} answered {path} with {status}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        ws.git("clean", "-fdq", stamp.path)  # the embedded SQLite database, if any


def _wait_for(url: str, deadline: float) -> int:
    """The status `url` answers with: 200 as soon as it does, else the last one at `deadline`.

    /ready answers 503 until start-up (migrations, first readiness checks) is done.
    """
    status = 0
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            status = 0
        if status == 200:
            return status
        if time.monotonic() > deadline:
            if status == 0:
                raise StepFailedError(f"nothing answered {url}")
            return status
        time.sleep(1)


def layering_violation_fails(ws: Workspace) -> None:
    """A domain module importing the API layer makes the build fail (visibility rules)."""
    package = UPDATED.name.replace("-", "_")
    domain = ws.root / UPDATED.path / "src" / package / "domain" / "layering_violation.py"
    domain.write_text(f"from {package}.api import __name__ as api_module\n\nLAYER = api_module\n")
    try:
        result = ws.pants("dependencies", f"{UPDATED.path}::", check=False)
    finally:
        domain.unlink()
    if result.returncode == 0 or "layering_violation.py has 1 dependency violation" not in (
        result.output
    ):
        raise StepFailedError("domain -> api was not rejected by the visibility rules")


def update(ws: Workspace) -> None:
    """(b) v2 adds a file and changes a line: update brings exactly that, and stays green."""
    readme = ws.root / CHANGED_TEMPLATE_FILE
    lines = readme.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + " (template v2)\n"
    readme.write_text("".join(lines))
    (ws.root / ADDED_TEMPLATE_FILE).write_text(
        "# {{ name }} runbook\n\nOwned by {{ team }}. Added in templates v2.0.0.\n"
    )
    ws.commit_all("templates: a runbook and a README title (v2.0.0)")
    ws.tag("v2.0.0")

    drift = ws.slipway("drift", check=False)
    if drift.returncode == 0 or UPDATED.path not in drift.output:
        raise StepFailedError("`slipway drift` did not report the services behind v2.0.0")

    result = ws.slipway("update", UPDATED.name)
    if "updated" not in result.output:
        raise StepFailedError("`slipway update` did not report the update")
    expected = sorted(
        f"{UPDATED.path}/{name}" for name in (".copier-answers.yml", "README.md", "RUNBOOK.md")
    )
    if ws.changed_paths() != expected:
        raise StepFailedError(f"update changed {ws.changed_paths()}, expected exactly {expected}")
    title = (ws.root / UPDATED.path / CHANGED_PROJECT_FILE).read_text().splitlines()[0]
    if not title.endswith("(template v2)"):
        raise StepFailedError(f"the changed line did not arrive: {title!r}")
    ws.pants("lint", "check", "test", f"{UPDATED.path}::")
    ws.commit_all("Update svc-all to templates v2.0.0")

    ws.slipway("update", "--all")
    ws.commit_all("Update every project to templates v2.0.0")
    ws.slipway("drift")


def conflict(ws: Workspace) -> None:
    """(c) Service and template edit the same line: markers, a report, pre-commit refuses."""
    project_readme = ws.root / UPDATED.path / CHANGED_PROJECT_FILE
    lines = project_readme.read_text().splitlines(keepends=True)
    lines[0] = "# svc-all: the team's own title\n"
    project_readme.write_text("".join(lines))
    ws.commit_all("svc-all: its own README title")

    template = ws.root / CHANGED_TEMPLATE_FILE
    lines = template.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("(template v2)", "(template v3)")
    template.write_text("".join(lines))
    ws.commit_all("templates: README title (v3.0.0)")
    ws.tag("v3.0.0")

    result = ws.slipway("update", UPDATED.name, check=False)
    if result.returncode == 0 or "conflict" not in result.output.lower():
        raise StepFailedError("`slipway update` did not report the conflict")
    if f"{UPDATED.path}/{CHANGED_PROJECT_FILE}" not in result.output:
        raise StepFailedError("the conflict report does not name the conflicting file")
    if "<<<<<<<" not in project_readme.read_text():
        raise StepFailedError("no inline conflict markers in the conflicting file")

    ws.git("add", "-A")
    hooks = ws.run(
        "tooling/pre-commit/run", "run", "check-merge-conflict",
        "--files", f"{UPDATED.path}/{CHANGED_PROJECT_FILE}",
        check=False,
    )  # fmt: skip
    if hooks.returncode == 0:
        raise StepFailedError("pre-commit accepted a file with conflict markers")


def plain_update(ws: Workspace) -> None:
    """The documented plain `copier update` works from the repo root on a clean tree."""
    ws.git("reset", "--hard", "--quiet")
    ws.run(str(ws.copier), "update", "--trust", "--defaults", PLAIN.path)
    answers = (ws.root / PLAIN.path / ".copier-answers.yml").read_text()
    if "_commit: v3.0.0" not in answers:
        raise StepFailedError(f"plain copier update did not move {PLAIN.path} to v3.0.0")


def project_root(start: Path) -> Path:
    """The repository holding this checkout of the template tests."""
    return Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],  # noqa: S607
            cwd=start,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout.strip()
    )
