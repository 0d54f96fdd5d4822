"""`tooling/mcp-conformance/run [--url URL --token TOKEN] [--keep]`: see ../README.md.

Installs the pinned npm packages (`npm ci --prefer-offline` from package-lock.json, skipped
while node_modules matches the lock), packages the contexts service and its token minter
(`./pants package services/contexts:contexts services/contexts:token`), serves the PEX on a
free port with an SQLite database in a scratch directory, then runs the applicable server
scenarios of the conformance suite and the inspector CLI checks, prints one table and exits
1 if any applicable scenario or check failed. With --url and --token it tests that server
instead (nothing is built or started).
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from slipway_mcp_conformance import inspector
from slipway_mcp_conformance.results import (
    Outcome,
    Verdict,
    read_checks,
    summary,
    table,
    verdict_of_checks,
)
from slipway_mcp_conformance.scenarios import BY_NAME, SCENARIOS, parse_list_output, unclassified

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parents[1]
NODE_MODULES = HERE / "node_modules"
CONFORMANCE = NODE_MODULES / ".bin" / "conformance"
AUTH_PRELOAD = HERE / "auth-fetch.mjs"
PINNED = ("@modelcontextprotocol/conformance", "@modelcontextprotocol/inspector-cli")
DIST = ROOT / "dist" / "services.contexts"
READY_TIMEOUT_SECONDS = 180.0  # a PEX's first run unpacks its venv


class RunnerError(Exception):
    """Setting up failed (npm, Pants, the server): not a conformance result."""


def log(message: str) -> None:
    print(f"mcp-conformance: {message}", flush=True)


def ensure_node_modules() -> None:
    """`npm ci` from the lock unless node_modules was installed from this very lock."""
    lock = HERE / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes() + (HERE / "package.json").read_bytes()).hexdigest()
    stamp = NODE_MODULES / ".slipway-installed"
    with lock.open("rb") as handle:  # one install at a time
        fcntl.flock(handle, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
            return
        log("npm ci --prefer-offline (tooling/mcp-conformance/package-lock.json)")
        command = ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]
        if subprocess.run(command, cwd=HERE, check=False).returncode != 0:  # noqa: S603
            raise RunnerError("npm ci failed")
        stamp.write_text(digest, encoding="utf-8")


def pinned_versions() -> str:
    """The installed versions of the pinned packages, and Node's."""
    found = []
    for name in PINNED:
        manifest = json.loads((NODE_MODULES / name / "package.json").read_text(encoding="utf-8"))
        found.append(f"{name}@{manifest['version']}")
    node = subprocess.run(
        ["node", "--version"],  # noqa: S607 - Node from PATH, as npm and the suite use
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return ", ".join([*found, f"node {node}"])


def build_service() -> tuple[Path, Path]:
    """The contexts deployable and its token minter, packaged by Pants."""
    log("./pants package services/contexts:contexts services/contexts:token")
    command = ["./pants", "package", "services/contexts:contexts", "services/contexts:token"]
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:  # noqa: S603
        raise RunnerError("./pants package failed")
    return DIST / "contexts.pex", DIST / "token.pex"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(port: int, workdir: Path) -> dict[str, str]:
    """The service's environment: only what is set here among CONTEXTS_* variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONTEXTS_")}
    env.update(
        {
            "CONTEXTS_ENVIRONMENT": "development",  # the development HS256 default
            "CONTEXTS_WEB__HOST": "127.0.0.1",
            "CONTEXTS_WEB__PORT": str(port),
            "CONTEXTS_DATABASE__URL": f"sqlite+aiosqlite:///{workdir / 'contexts.db'}",
            "CONTEXTS_MCP_NAMESPACES": json.dumps([inspector.NAMESPACE]),
            "CONTEXTS_LOG_RENDERER": "json",
        }
    )
    return env


def wait_ready(base: str, server: "subprocess.Popen[bytes]", log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RunnerError(f"the server exited with {server.returncode}; see {log_path}")
        # urllib's errors (a refused connection, a 503 while starting) are OSErrors.
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/ready", timeout=2) as answer,  # noqa: S310
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise RunnerError(f"the server was not ready in {READY_TIMEOUT_SECONDS:.0f}s; see {log_path}")


@contextlib.contextmanager
def served(workdir: Path) -> Iterator[tuple[str, str]]:
    """Serve the packaged service; yield its MCP URL and a development token."""
    service_pex, token_pex = build_service()
    port = free_port()
    env = service_env(port, workdir)
    minted = subprocess.run(  # noqa: S603
        [sys.executable, str(token_pex), "--sub", "mcp-conformance"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if minted.returncode != 0:
        raise RunnerError(f"minting a token failed: {minted.stderr.strip()}")
    log_path = workdir / "server.log"
    base = f"http://127.0.0.1:{port}"
    log(f"serving {service_pex.relative_to(ROOT)} on {base} (log: {log_path})")
    with log_path.open("wb") as server_log:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, str(service_pex)],
            cwd=workdir,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base, server, log_path)
            yield f"{base}/mcp", minted.stdout.strip()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def conformance_env(url: str, token: str) -> dict[str, str]:
    """Node with the bearer-token preload (the suite has no option for headers)."""
    env = dict(os.environ)
    preload = f"--import={AUTH_PRELOAD.as_uri()}"
    env["NODE_OPTIONS"] = " ".join(filter(None, [env.get("NODE_OPTIONS"), preload]))
    env["MCP_CONFORMANCE_BEARER_TOKEN"] = token
    parts = urlsplit(url)
    env["MCP_CONFORMANCE_ORIGIN"] = f"{parts.scheme}://{parts.netloc}"
    return env


def run_conformance(url: str, token: str, output_dir: Path) -> list[Outcome]:
    """Every scenario the suite lists: the applicable ones run, the others explained."""
    listing = subprocess.run(  # noqa: S603
        [str(CONFORMANCE), "list", "--server"], capture_output=True, text=True, check=False
    )
    listed = parse_list_output(listing.stdout)
    if listing.returncode != 0 or not listed:
        raise RunnerError(f"`conformance list --server` failed: {listing.stderr.strip()}")
    outcomes = [
        Outcome("conformance", name, Verdict.FAIL, "not classified in scenarios.py")
        for name in unclassified(listed)
    ]
    outcomes += [
        Outcome("conformance", s.name, Verdict.FAIL, "applicable but the suite no longer has it")
        for s in SCENARIOS
        if s.applies and s.name not in listed
    ]
    env = conformance_env(url, token)
    for name in listed:
        scenario = BY_NAME.get(name)
        if scenario is None:
            continue
        if not scenario.applies:
            note = scenario.reason + (
                f" [covered: {scenario.covered_by}]" if scenario.covered_by else ""
            )
            outcomes.append(Outcome("conformance", name, Verdict.NOT_APPLICABLE, note))
            continue
        command = [
            str(CONFORMANCE),
            "server",
            "--url",
            url,
            "--scenario",
            name,
            "-o",
            str(output_dir),
        ]
        try:
            done = subprocess.run(  # noqa: S603
                command, env=env, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired:
            outcomes.append(Outcome("conformance", name, Verdict.FAIL, "timed out after 120s"))
            continue
        checks = read_checks(output_dir, name)
        if checks is None:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            note = f"no checks.json (exit {done.returncode}): {' | '.join(tail)}"
            outcomes.append(Outcome("conformance", name, Verdict.FAIL, note))
            continue
        verdict, note = verdict_of_checks(checks)
        if verdict is Verdict.PASS and done.returncode != 0:
            verdict, note = Verdict.FAIL, f"exit {done.returncode} ({note})"
        outcomes.append(Outcome("conformance", name, verdict, note))
    return outcomes


def run_all(url: str, token: str, workdir: Path) -> list[Outcome]:
    outcomes = run_conformance(url, token, workdir / "results")
    probe = f"probe-{secrets.token_hex(4)}"
    outcomes += inspector.checks(inspector.Inspector(NODE_MODULES, url, token), probe)
    order = {Verdict.FAIL: 0, Verdict.PASS: 1, Verdict.NOT_APPLICABLE: 2}
    return sorted(outcomes, key=lambda o: (order[o.verdict], o.source))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tooling/mcp-conformance/run", description=__doc__)
    parser.add_argument("--url", help="test this MCP endpoint (with --token) instead")
    parser.add_argument("--token", help="the bearer token for --url")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if (args.url is None) != (args.token is None):
        parser.error("--url and --token go together")
    workdir = Path(tempfile.mkdtemp(prefix="mcp-conformance-"))
    status = 2
    try:
        ensure_node_modules()
        log(pinned_versions())
        with contextlib.ExitStack() as stack:
            if args.url is not None:
                url, token = args.url, args.token
            else:
                url, token = stack.enter_context(served(workdir))
            log(f"testing {url}")
            outcomes = run_all(url, token, workdir)
        print()
        print(table(outcomes))
        line, status = summary(outcomes)
        print(f"\n{line}")
        return status
    except RunnerError as error:
        log(f"error: {error}")
        return 2
    finally:
        if args.keep or status != 0:
            log(f"scratch directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
