"""End to end: the plugin loaded by a real `./pants` in a scratch repository.

This runs on the repository's own Python (python-default resolve) and so needs no Pants imports:
it copies the launcher and the plugin sources into a temporary repository and drives the
`lint`, `fmt` and `fix` goals there, with real ruff.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

LAUNCHER = Path("pants").resolve()
PLUGIN = Path("tooling/pants-plugins/slipway_ruff").resolve()

PANTS_TOML = """\
[GLOBAL]
pants_version = "2.17.1"
pantsd = false
pythonpath = ["%(buildroot)s/plugins"]
backend_packages = ["pants.backend.python", "slipway_ruff"]

[anonymous-telemetry]
enabled = false

[python]
interpreter_constraints = ["CPython>=3.9,<4"]

[python-bootstrap]
search_path = ["<PATH>", "<PYENV>"]

[subprocess-environment]
env_vars = ["PIP_CONFIG_FILE=/dev/null"]
"""

PYPROJECT = """\
[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "I", "S"]
"""

CLEAN = "import os\nimport sys\n\nprint(os.sep, sys.argv)\n"
# I001 (unsorted imports, fixable), S101 (assert) and S307 (eval).
VIOLATIONS = "import sys\nimport os\n\nassert sys.argv\nprint(eval(os.sep))\n"
UNSORTED = "import sys\nimport os\n\nprint(os.sep, sys.argv)\n"
BADLY_FORMATTED = "x = {  'a':1 }\n"
FORMATTED = 'x = {"a": 1}\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(
        PLUGIN, root / "plugins" / "slipway_ruff", ignore=shutil.ignore_patterns("tests", "BUILD")
    )
    shutil.copy2(LAUNCHER, root / "pants")
    (root / "pants.toml").write_text(PANTS_TOML)
    (root / "pyproject.toml").write_text(PYPROJECT)
    src = root / "src"
    src.mkdir()
    (src / "BUILD").write_text(
        "python_sources(sources=['*.py', '!unchecked.py', '!unformatted.py'])\n"
        "python_sources(name='unchecked', sources=['unchecked.py'], skip_ruff_check=True)\n"
        "python_sources(name='unformatted', sources=['unformatted.py'], skip_ruff_format=True)\n"
    )
    (src / "unchecked.py").write_text(VIOLATIONS)
    (src / "unformatted.py").write_text(BADLY_FORMATTED)
    return root


def pants(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: os.environ[name]
        for name in ("HOME", "PATH", "PYENV_ROOT", "SSL_CERT_FILE")
        if name in os.environ
    }
    return subprocess.run(
        [str(repo / "pants"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_lint_fmt_fix(repo: Path) -> None:
    src = repo / "src"
    (src / "bad.py").write_text(VIOLATIONS)
    (src / "ugly.py").write_text(BADLY_FORMATTED)
    (src / "unsorted.py").write_text(UNSORTED)
    (src / "good.py").write_text(CLEAN)

    lint = pants(repo, "lint", "src::")
    assert lint.returncode == 1, lint.stderr
    assert "src/bad.py" in lint.stdout + lint.stderr
    for code in ("I001", "S101", "S307"):
        assert code in lint.stdout + lint.stderr
    assert "✕ ruff-check failed." in lint.stderr
    # The formatter takes part in `lint`: it would change ugly.py.
    assert "✕ ruff-format failed." in lint.stderr
    # skip_ruff_check: unchecked.py's violations are not reported.
    assert "unchecked.py" not in lint.stdout + lint.stderr

    fmt = pants(repo, "fmt", "src::")
    assert fmt.returncode == 0, fmt.stderr
    assert (src / "ugly.py").read_text() == FORMATTED
    assert (src / "good.py").read_text() == CLEAN
    # skip_ruff_format
    assert (src / "unformatted.py").read_text() == BADLY_FORMATTED

    fix = pants(repo, "fix", "src::")
    assert fix.returncode == 0, fix.stderr
    assert (src / "unsorted.py").read_text() == CLEAN
    assert (src / "bad.py").read_text() == VIOLATIONS.replace(
        "import sys\nimport os", "import os\nimport sys"
    )
    assert (src / "unchecked.py").read_text() == VIOLATIONS

    # bad.py's assert and eval are left for lint to report, unless ruff check is skipped.
    assert pants(repo, "lint", "src::").returncode == 1
    skipped = pants(repo, "--ruff-check-skip", "lint", "src::")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr

    (src / "bad.py").unlink()
    clean = pants(repo, "lint", "src::")
    assert clean.returncode == 0, clean.stdout + clean.stderr
