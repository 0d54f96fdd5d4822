"""The template scenarios, on a clone of HEAD with no tags: as shipped, render and build,
release and update, conflict, plain copier update.

Each scenario runs in the same clone, one after the other, because each starts from the state
the previous one committed (stamped at the current release, updated to the next, conflicting at
the one after).
"""

from __future__ import annotations

import os
import re
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
    # Events need the database (their outbox is a table): on the SQLite default, without Redis,
    # the relay publishes to an in-process stream (svc-all covers the Redis Stream).
    Stamp("service", "svc-events", (("team", "search"), ("database", "true"), ("events", "true"))),
    # Redis without a database: the items in a Redis hash.
    Stamp("service", "svc-redis", (("redis", "true"),)),
    # The longest name the validator allows: every rendered line still passes the BUILD checks.
    Stamp(
        "service",
        "svc-thirty-characters-name-xyz",
        (("database", "true"), ("redis", "true"), ("events", "true")),
    ),
    Stamp("lib", "ledger-kit", (("team", "platform"), ("description", "Ledger helpers"))),
)
# Every switch at its default.
PLAIN = Stamp("service", "svc-plain", ())
UPDATED = CLI_STAMPS[0]

ADDED_TEMPLATE_FILE = "templates/service/RUNBOOK.md.jinja"
# A template-owned file (service-owned ones, README.md included, are never rewritten by updates),
# and the line of it the releases change: the comment under the `# syntax=` directive.
CHANGED_TEMPLATE_FILE = "templates/service/Dockerfile.jinja"
CHANGED_PROJECT_FILE = "Dockerfile"
CHANGED_LINE = 1


def as_shipped(ws: Workspace) -> None:
    """(0) The repository as it ships: every project is current, and updating is a no-op."""
    ws.slipway("drift")
    result = ws.slipway("update", "--all")
    lines = [line for line in result.output.splitlines() if line.startswith(("services/", "libs/"))]
    if not lines or not all("already current" in line for line in lines):
        raise StepFailedError(f"`slipway update --all` was not a no-op: {lines}")
    for answers in sorted(ws.root.glob("services/*/.copier-answers.yml")):
        ws.run(
            str(ws.copier),
            "update",
            "--trust",
            "--defaults",
            str(answers.parent.relative_to(ws.root)),
        )
    if ws.changed_paths():
        raise StepFailedError(f"updating current projects changed {ws.changed_paths()}")


def recorded_commit(ws: Workspace, stamp: Stamp) -> str:
    """The `_commit` a project's answers file records, checked to be a commit of the clone."""
    answers = (ws.root / stamp.path / ".copier-answers.yml").read_text(encoding="utf-8")
    match = re.search(r"^_commit: (\S+)$", answers, re.MULTILINE)
    if match is None:
        raise StepFailedError(f"{stamp.path}/.copier-answers.yml records no _commit")
    if ws.git("cat-file", "-t", match[1], check=False).output.strip() != "commit":
        raise StepFailedError(f"{stamp.path} records {match[1]}, which is not a commit")
    return match[1]


def render(ws: Workspace) -> None:
    """(a) Stamp every answer combination at the current release, then tailor, lint, check and
    test them; a stray file elsewhere does not matter, uncommitted templates are refused."""
    stray = ws.root / "NOTES.local.txt"
    stray.write_text("an untracked file: Copier renders a throwaway commit for a dirty tree\n")
    ws.run(
        str(ws.copier), "copy", "--trust", "--defaults", "--data", "template=service",
        *PLAIN.data_args(), ".", PLAIN.path,
    )  # fmt: skip
    for stamp in CLI_STAMPS:
        ws.slipway("new", stamp.kind, stamp.name, "--defaults", *stamp.data_args())
    commits = {recorded_commit(ws, stamp) for stamp in (PLAIN, *CLI_STAMPS)}
    if len(commits) != 1:
        raise StepFailedError(f"projects stamped from one release record {sorted(commits)}")
    stray.unlink()
    targets = [f"{stamp.path}::" for stamp in (PLAIN, *CLI_STAMPS)]
    ws.pants("tailor", "--check", "update-build-files", "--check", *targets)
    ws.pants("lint", "check", "test", *targets)
    ws.commit_all("Stamp services and a lib at the current template release")
    dirty_templates_refused(ws)
    refused_names(ws)
    events_without_database_refused(ws)
    serve(ws, UPDATED)
    layering_violation_fails(ws)


def dirty_templates_refused(ws: Workspace) -> None:
    """An uncommitted template edit is refused in one line, by the CLI and by plain Copier."""
    template = ws.root / CHANGED_TEMPLATE_FILE
    original = template.read_text(encoding="utf-8")
    template.write_text(original + "\nAn uncommitted line.\n", encoding="utf-8")
    try:
        cli = ws.slipway("new", "service", "svc-dirty", "--defaults", check=False)
        plain = ws.run(
            str(ws.copier), "copy", "--trust", "--defaults", "--data", "template=service", ".",
            "services/svc-dirty", check=False,
        )  # fmt: skip
    finally:
        template.write_text(original, encoding="utf-8")
    for result in (cli, plain):
        if result.returncode == 0 or "uncommitted changes" not in result.output:
            raise StepFailedError(f"`{' '.join(result.args)}` was not refused for dirty templates")
        if "Traceback" in result.output:
            raise StepFailedError(f"`{' '.join(result.args)}` printed a traceback")
    if ws.changed_paths():
        raise StepFailedError(f"a refused stamp left files behind: {ws.changed_paths()}")


def refused_names(ws: Workspace) -> None:
    """Invalid and clashing names are refused before anything is written."""
    refused = (
        ("service", "Billing"), ("service", "json"), ("lib", "config"),
        # Locked distributions and the modules they install, not only requirements.
        ("service", "idna"), ("service", "mcp-types"), ("service", "attr"),
    )  # fmt: skip
    for kind, name in refused:
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


def events_without_database_refused(ws: Workspace) -> None:
    """`events` without `database` is refused (the outbox is a table), before anything is
    written."""
    result = ws.slipway(
        "new", "service", "svc-no-db", "--defaults", "--data", "events=true", check=False
    )
    if result.returncode == 0 or "events need the database" not in result.output:
        raise StepFailedError("`slipway new` with events and no database was not refused")
    if "Traceback" in result.output:
        raise StepFailedError("refusing events without a database printed a traceback")
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
        _stop_pants_run(process)
        ws.git("clean", "-fdq", stamp.path)  # the embedded SQLite database, if any
    if _answers(port, within=15.0):
        raise StepFailedError(f"{stamp.path} still serves on port {port} after `pants run` ended")


def _stop_pants_run(process: subprocess.Popen[bytes]) -> None:
    """Stop `pants run` as Ctrl-C does: SIGINT to its process group.

    pants runs the served process in a session of its own, out of reach of signals to the
    group, and passes SIGINT on to it; SIGTERM it does not, and ends (or is killed) with the
    service still serving, orphaned.
    """
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _answers(port: int, within: float) -> bool:
    """Whether something still accepts connections on `port` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.5)


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
    """(b) A release adds a file and changes a line: drift fails, update brings exactly that
    and stays green, `update --all` takes it into every project (the shipped ones too)."""
    changed = ws.root / CHANGED_TEMPLATE_FILE
    lines = changed.read_text().splitlines(keepends=True)
    lines[CHANGED_LINE] = lines[CHANGED_LINE].rstrip("\n") + " (template v2)\n"
    changed.write_text("".join(lines))
    (ws.root / ADDED_TEMPLATE_FILE).write_text(
        "# {{ name }} runbook\n\nOwned by {{ team }}. Added by a template release.\n"
    )
    version = ws.release("a runbook and a Dockerfile comment")
    ws.commit_all(f"templates: a runbook and a Dockerfile comment ({version})")

    drift = ws.slipway("drift", check=False)
    if (
        drift.returncode == 0
        or f"{UPDATED.path} " not in drift.output
        or "behind" not in (drift.output)
    ):
        raise StepFailedError(f"`slipway drift` did not report the services behind {version}")

    result = ws.slipway("update", UPDATED.name)
    if "updated" not in result.output:
        raise StepFailedError("`slipway update` did not report the update")
    expected = sorted(
        f"{UPDATED.path}/{name}"
        for name in (".copier-answers.yml", CHANGED_PROJECT_FILE, "RUNBOOK.md")
    )
    if ws.changed_paths() != expected:
        raise StepFailedError(f"update changed {ws.changed_paths()}, expected exactly {expected}")
    line = (ws.root / UPDATED.path / CHANGED_PROJECT_FILE).read_text().splitlines()[CHANGED_LINE]
    if not line.endswith("(template v2)"):
        raise StepFailedError(f"the changed line did not arrive: {line!r}")
    ws.pants("lint", "check", "test", f"{UPDATED.path}::")
    ws.commit_all(f"Update svc-all to templates {version}")

    ws.slipway("update", "--all")
    shipped = sorted(p.parent.name for p in ws.root.glob("services/*/RUNBOOK.md"))
    if "contexts" not in shipped:
        raise StepFailedError(f"`update --all` did not reach services/contexts: {shipped}")
    ws.commit_all(f"Update every project to templates {version}")
    ws.slipway("drift")


def conflict(ws: Workspace) -> None:
    """(c) Service and template edit the same line: `update --all` updates every project,
    leaves markers in that one and reports it; pre-commit refuses the markers."""
    project_file = ws.root / UPDATED.path / CHANGED_PROJECT_FILE
    lines = project_file.read_text().splitlines(keepends=True)
    lines[CHANGED_LINE] = "# svc-all: the team's own build notes\n"
    project_file.write_text("".join(lines))
    ws.commit_all("svc-all: its own Dockerfile comment")

    template = ws.root / CHANGED_TEMPLATE_FILE
    lines = template.read_text().splitlines(keepends=True)
    lines[CHANGED_LINE] = lines[CHANGED_LINE].replace("(template v2)", "(template v3)")
    template.write_text("".join(lines))
    version = ws.release("Dockerfile comment")
    ws.commit_all(f"templates: Dockerfile comment ({version})")

    result = ws.slipway("update", "--all", check=False)
    if "services/contexts: updated" not in result.output:
        raise StepFailedError("`update --all` did not update services/contexts beside the conflict")
    if ": failed" in result.output:
        # Projects after the conflicting one: Copier's `git write-tree` once refused the
        # unmerged index the conflict left.
        raise StepFailedError("a conflict in one project made `update --all` fail others")
    if result.returncode == 0 or "conflict" not in result.output.lower():
        raise StepFailedError("`slipway update` did not report the conflict")
    if f"{UPDATED.path}/{CHANGED_PROJECT_FILE}" not in result.output:
        raise StepFailedError("the conflict report does not name the conflicting file")
    if "<<<<<<<" not in project_file.read_text():
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
    """(d) The documented plain `copier update` moves a project to the newest release's commit
    (no tags: Copier renders HEAD, the guard records the release's commit on main)."""
    ws.git("reset", "--hard", "--quiet")
    ws.git("clean", "-fdq")
    ws.run(str(ws.copier), "update", "--trust", "--defaults", PLAIN.path)
    # The newest commit changing what is rendered (releases.RENDERED_INPUTS in tooling/cli).
    rendered = ("copier.yml", "templates", ":(exclude,glob)templates/*.md",
                ":(exclude)templates/releases.yml")  # fmt: skip
    newest = ws.git("log", "-1", "--format=%H", "--", *rendered).output.strip()
    if recorded_commit(ws, PLAIN) != newest:
        raise StepFailedError(f"plain copier update did not record the newest release {newest}")


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
