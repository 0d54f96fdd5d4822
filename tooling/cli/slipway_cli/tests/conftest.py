"""A hermetic environment for git and Copier, and a small template repository to drive them.

Tests need the `git` binary on PATH (the BUILD passes PATH into the Pants sandbox). Git reads
no global or system config and commits as a fixed author; Copier reads no user settings.
"""

import subprocess
from pathlib import Path

import pytest

import slipway_cli

# The guard Copier runs, copied into the fixture repository where its copier.yml points.
GUARD_FILES = ("__init__.py", "releases.py", "copier_guard.py")
GUARD = (
    "{{ _copier_python }}",
    "{{ _copier_conf.src_path }}/tooling/cli/slipway_cli/copier_guard.py",
)

# The fixture repository is both the monorepo and its template, like the real one: the root
# copier.yml picks templates/<template>, projects are stamped into services/ and libs/, and
# releases are recorded in templates/releases.yml, kept on main by the guard.
TEMPLATE_V1: dict[str, str] = {
    "copier.yml": (
        "_subdirectory: templates/{{ template }}\n"
        "_external_data:\n"
        '  releases: "{{ _copier_conf.src_path }}/templates/releases.yml"\n'
        f'_tasks:\n  - command: ["{GUARD[0]}", "{GUARD[1]}", "record"]\n'
        "_migrations:\n"
        "  - when: \"{{ _stage == 'before' }}\"\n"
        f'    command: ["{GUARD[0]}", "{GUARD[1]}", "preflight"]\n'
        "  - when: \"{{ _stage == 'before' }}\"\n"
        f'    command: ["{GUARD[0]}", "{GUARD[1]}", "migrate", "{{{{ _version_from }}}}",'
        ' "3.0.0", "--", "sh", "-c", "if [ -f app.py ]; then git mv app.py application.py; fi"]\n'
        "template:\n  type: str\n  choices: [service, lib]\n"
        "name:\n  type: str\n"
        "owner:\n  type: str\n  default: platform-team\n"
        "template_owned:\n  type: yaml\n  when: false\n"
        "  default: {service: [app.py, application.py], lib: []}\n"
    ),
    "templates/releases.yml": "releases:\n  - version: 1.0.0\n",
    "templates/service/{{ _copier_conf.answers_file }}.jinja": (
        "# Changes here will be overwritten by Copier\n"
        "{{ dict(_copier_answers, _commit=_copier_conf.vcs_ref_hash,"
        " _template_version=_external_data.releases.releases[0].version) | to_nice_yaml }}"
    ),
    "templates/service/README.md.jinja": "# {{ name }}\n\nOwned by {{ owner }}.\n",
    "templates/service/app.py.jinja": 'NAME = "{{ name }}"\nGREETING = "hello"\n',
    "templates/lib/{{ _copier_conf.answers_file }}.jinja": (
        "{{ dict(_copier_answers, _commit=_copier_conf.vcs_ref_hash,"
        " _template_version=_external_data.releases.releases[0].version) | to_nice_yaml }}"
    ),
    "templates/lib/README.md.jinja": "# lib {{ name }}\n",
    "services/README.md": "Services live here.\n",
    "libs/README.md": "Libs live here.\n",
}

# 2.0.0 changes a line the projects carry and adds a file.
TEMPLATE_V2: dict[str, str] = {
    "templates/releases.yml": "releases:\n  - version: 2.0.0\n  - version: 1.0.0\n",
    "templates/service/app.py.jinja": 'NAME = "{{ name }}"\nGREETING = "hello, world"\n',
    "templates/service/CHANGELOG.md.jinja": "# {{ name }} changelog\n",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; fail the test on error."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def write(repo: Path, files: dict[str, str]) -> None:
    """Write `files` (relative path -> text) under `repo`."""
    for relative, text in files.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def commit_all(repo: Path, message: str) -> str:
    """Commit everything in `repo`; return the commit's full hash."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user git config or Copier settings, a fixed committer, HOME in the test directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    settings = home / "copier-settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    monkeypatch.setenv("COPIER_SETTINGS_PATH", str(settings))
    monkeypatch.setenv("COPIER_CACHE_DIR", str(home / "copier-cache"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Slipway Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.invalid")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A monorepo-and-template repository at template release 1.0.0, with no projects yet."""
    root = tmp_path / "mono"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    write(root, TEMPLATE_V1)
    package = Path(slipway_cli.__file__).parent
    guard_dir = root / "tooling" / "cli" / "slipway_cli"
    guard_dir.mkdir(parents=True)
    for name in GUARD_FILES:
        (guard_dir / name).write_bytes((package / name).read_bytes())
    commit_all(root, "template 1.0.0")
    return root
