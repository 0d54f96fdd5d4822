"""Behaviour of the root `./pants` launcher: bootstrap, errors, races and re-bootstrap."""

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

LAUNCHER = Path("pants").resolve()
MINIMAL_PANTS_TOML = """\
[GLOBAL]
pants_version = "2.17.1"
backend_packages = []
pantsd = false
"""


def launcher_env(cache: Path, **extra: str) -> dict[str, str]:
    """A small, explicit environment: only what the launcher needs, plus `extra`."""
    env = {
        "HOME": os.environ["HOME"],
        "PATH": os.environ["PATH"],
        "SLIPWAY_PANTS_CACHE": str(cache),
    }
    for name in ("SSL_CERT_FILE", "PYENV_ROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def start_launcher(workdir: Path, env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    """Start a copy of the launcher in `workdir`, capturing its output."""
    return subprocess.Popen(
        [str(workdir / "pants"), *args],
        cwd=workdir,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory holding a copy of the launcher and a minimal pants.toml."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(LAUNCHER, root / "pants")
    (root / "pants.toml").write_text(MINIMAL_PANTS_TOML)
    return root


def bootstrap_dirs(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.is_dir())


def test_without_python39_explains_in_one_paragraph(workdir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = launcher_env(
        cache,
        PATH="/usr/bin:/bin",
        HOME=str(tmp_path / "home"),
        PYENV_ROOT=str(tmp_path / "no-pyenv"),
    )
    if shutil.which("python3.9", path=env["PATH"]):
        pytest.skip("this machine has python3.9 in /usr/bin, so it cannot be hidden")

    done = start_launcher(workdir, env, "--version")
    out, err = done.communicate(timeout=60)

    assert done.returncode == 1
    assert out == ""
    message = err.strip()
    assert message.startswith("pants launcher: Pants 2.17.1 runs only on CPython 3.9")
    assert "SLIPWAY_PANTS_PYTHON" in message
    assert "\n" not in message
    assert "Traceback" not in err
    assert not cache.exists() or bootstrap_dirs(cache) == []


def test_rejects_a_chosen_interpreter_that_is_not_39(workdir: Path, tmp_path: Path) -> None:
    env = launcher_env(tmp_path / "cache", SLIPWAY_PANTS_PYTHON="/bin/sh")

    done = start_launcher(workdir, env, "--version")
    _, err = done.communicate(timeout=60)

    assert done.returncode == 1
    assert "SLIPWAY_PANTS_PYTHON=/bin/sh is not a CPython 3.9 interpreter" in err


@pytest.mark.slow
def test_racing_first_runs_share_one_bootstrap_and_a_recipe_bump_rebootstraps(
    workdir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env = launcher_env(cache)

    racers = [start_launcher(workdir, env, "--version") for _ in range(2)]
    results = [racer.communicate(timeout=600) for racer in racers]

    for racer, (out, err) in zip(racers, results, strict=True):
        assert racer.returncode == 0, err
        assert out.strip() == "2.17.1"
    assert sum("bootstrap ready" in err for _, err in results) == 1
    first = bootstrap_dirs(cache)
    assert len(first) == 1
    assert first[0].startswith("pants-2.17.1-pex-2.1.137-py3.9-")
    fingerprint = (cache / first[0] / "pex.fingerprint").read_text()
    sha256, size = fingerprint.strip().split("|")
    assert len(sha256) == 64
    assert int(size) > 1_000_000

    launcher = workdir / "pants"
    launcher.write_text(launcher.read_text().replace('RECIPE="1"', 'RECIPE="1-test"'))
    rerun = start_launcher(workdir, env, "--version")
    out, err = rerun.communicate(timeout=600)

    assert rerun.returncode == 0, err
    assert "bootstrap ready" in err
    assert len(bootstrap_dirs(cache)) == 2
