"""Target selection of `tooling/ci/affected --list`, run with real Pants on a small git repo.

The repository: lib `slipway.a`, service s1 importing it, service s2 not. s1 has what a stamped
service has: its own ruff.toml, a conftest.py, a test of its code and a contract test reading
openapi.json through a `file` target. Each test branches from the first commit, commits a
change, and lists what CI would select.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

LAUNCHER = Path("pants").resolve()
AFFECTED = Path("tooling/ci/affected").resolve()

FILES = {
    "pants.toml": """\
[GLOBAL]
pants_version = "2.17.1"
backend_packages = ["pants.backend.python"]
pantsd = false

[anonymous-telemetry]
enabled = false

[source]
root_patterns = ["/libs/*", "/services/*/src"]

[python]
interpreter_constraints = ["CPython==3.11.*"]

[python-infer]
use_rust_parser = true
""",
    ".gitignore": "/.pants.d/\n/.pids/\n/dist/\n",
    "README.md": "A repository for testing affected-only CI.\n",
    "libs/a/slipway/a/BUILD": "python_sources()\n",
    "libs/a/slipway/a/__init__.py": "VALUE = 1\n",
    "services/s1/ruff.toml": 'extend = "../../pyproject.toml"\n',
    "services/s1/openapi.json": '{"openapi": "3.1.0"}\n',
    "services/s1/BUILD": 'file(name="contract", source="openapi.json")\n',
    "services/s1/src/slipway_s1/BUILD": """\
python_sources()
python_test_utils(name="test_utils")
python_tests(
    name="tests",
    overrides={"test_contract.py": {"dependencies": ["services/s1:contract"]}},
)
""",
    "services/s1/src/slipway_s1/conftest.py": '"""Fixtures for the tests of s1."""\n',
    "services/s1/src/slipway_s1/main.py": "from slipway.a import VALUE\n\nDOUBLED = VALUE * 2\n",
    "services/s1/src/slipway_s1/test_main.py": (
        "from slipway_s1.main import DOUBLED\n\n\ndef test_doubled() -> None:\n"
        "    assert DOUBLED == 2\n"
    ),
    "services/s1/src/slipway_s1/test_contract.py": (
        "from pathlib import Path\n\n\ndef test_contract_is_committed() -> None:\n"
        '    assert Path("services/s1/openapi.json").is_file()\n'
    ),
    "services/s2/src/slipway_s2/BUILD": "python_sources()\n",
    "services/s2/src/slipway_s2/main.py": 'NAME = "s2"\n',
}


def clean_env() -> dict[str, str]:
    """Only what git, the launcher and Pants need: no PEX or Pants variables of the test run."""
    env = {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "CI Test",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
        "GIT_COMMITTER_NAME": "CI Test",
        "GIT_COMMITTER_EMAIL": "ci@example.invalid",
    }
    for name in ("HOME", "PATH", "PYENV_ROOT", "SSL_CERT_FILE", "SLIPWAY_PANTS_CACHE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; return stdout."""
    done = subprocess.run(
        ["git", *args], cwd=repo, env=clean_env(), capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository, its first commit on `main`, with a copy of the real launcher."""
    root = tmp_path_factory.mktemp("affected") / "repo"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    shutil.copy2(LAUNCHER, root / "pants")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def commit_change(repo: Path, branch: str, path: str) -> None:
    """On a new `branch` from main, append a comment to `path` and commit it."""
    git(repo, "checkout", "-q", "-B", branch, "main")
    with (repo / path).open("a") as file:
        file.write("# changed\n")
    git(repo, "commit", "-q", "-a", "-m", f"change {path}")


def selected(repo: Path) -> tuple[set[str], str]:
    """The addresses `affected --list --base main` prints, and its stderr."""
    done = subprocess.run(
        [str(AFFECTED), "--list", "--base", "main"],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split()), done.stderr


def under(addresses: set[str], directory: str) -> set[str]:
    """The addresses in `directory` or below it."""
    return {a for a in addresses if a.startswith((f"{directory}/", f"{directory}:"))}


def test_service_change_selects_only_that_service(repo: Path) -> None:
    commit_change(repo, "change-s2", "services/s2/src/slipway_s2/main.py")

    addresses, err = selected(repo)

    assert "services/s2/src/slipway_s2/main.py" in addresses
    assert addresses == under(addresses, "services/s2")
    assert "running on affected targets" in err


def test_lib_change_selects_the_lib_and_its_dependents_only(repo: Path) -> None:
    commit_change(repo, "change-a", "libs/a/slipway/a/__init__.py")

    addresses, _ = selected(repo)

    assert "libs/a/slipway/a/__init__.py" in addresses
    assert "services/s1/src/slipway_s1/main.py" in addresses
    # Transitive: the test imports main.py, which imports the lib.
    assert "services/s1/src/slipway_s1/test_main.py:tests" in addresses
    assert under(addresses, "services/s2") == set()


def test_project_ruff_config_change_selects_that_project_only(repo: Path) -> None:
    commit_change(repo, "change-s1-ruff", "services/s1/ruff.toml")

    addresses, err = selected(repo)

    # No target owns ruff.toml, but it decides whether every file of s1 passes lint.
    assert {
        "services/s1:contract",
        "services/s1/src/slipway_s1/main.py",
        "services/s1/src/slipway_s1/test_main.py:tests",
        "services/s1/src/slipway_s1/test_contract.py:tests",
    } <= addresses
    assert addresses == under(addresses, "services/s1")
    assert "every target in services/s1 (services/s1/ruff.toml)" in err


def test_contract_change_selects_the_contract_test_through_its_file_target(repo: Path) -> None:
    commit_change(repo, "change-s1-contract", "services/s1/openapi.json")

    addresses, _ = selected(repo)

    # Owned by `file(name="contract")`, so --changed-since sees it: no project rule needed.
    assert addresses == {
        "services/s1:contract",
        "services/s1/src/slipway_s1:tests",
        "services/s1/src/slipway_s1/test_contract.py:tests",
    }


def test_conftest_change_selects_the_tests_below_it(repo: Path) -> None:
    commit_change(repo, "change-s1-conftest", "services/s1/src/slipway_s1/conftest.py")

    addresses, _ = selected(repo)

    # Owned by python_test_utils; Pants infers it as a dependency of every test below it.
    assert addresses == {
        "services/s1/src/slipway_s1/conftest.py:test_utils",
        "services/s1/src/slipway_s1:tests",
        "services/s1/src/slipway_s1/test_main.py:tests",
        "services/s1/src/slipway_s1/test_contract.py:tests",
    }


def test_pants_toml_change_selects_everything(repo: Path) -> None:
    commit_change(repo, "change-pants-toml", "pants.toml")

    addresses, err = selected(repo)

    assert {
        "libs/a/slipway/a/__init__.py",
        "services/s1/src/slipway_s1/main.py",
        "services/s1/src/slipway_s1/test_main.py:tests",
        "services/s2/src/slipway_s2/main.py",
    } <= addresses
    assert "global inputs changed" in err
    assert "pants.toml" in err


def test_unowned_change_selects_nothing(repo: Path) -> None:
    commit_change(repo, "change-readme", "README.md")

    addresses, _ = selected(repo)

    assert addresses == set()
