"""End to end with real git and Copier: stamp, release, drift, update, with no tags anywhere."""

import contextlib
import io
import json
from pathlib import Path

import copier
import pytest
import yaml

from slipway_cli import target
from slipway_cli.commands import drift, new, update
from slipway_cli.errors import SlipwayError
from slipway_cli.tests.conftest import TEMPLATE_V2, commit_all, git, write


def newest_commit(repo: Path) -> str:
    return target.choose(repo).commit


def stamp(repo: Path, name: str = "demo", kind: str = "service") -> str:
    """Stamp a project as `slipway new` does, commit it; return the command's output."""
    out = io.StringIO()
    code = new.run(repo, kind, name, {}, vcs_ref=newest_commit(repo), defaults=True, out=out)
    assert code == 0
    commit_all(repo, f"stamp {name}")
    return out.getvalue()


def release_v2(repo: Path) -> str:
    """Change a line of the template, add a file, list release 2.0.0; its commit."""
    write(repo, TEMPLATE_V2)
    return commit_all(repo, "template 2.0.0")


def run_drift(repo: Path) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    code = drift.run(repo, as_json=True, out=out)
    return code, json.loads(out.getvalue())


def run_update(repo: Path, *names: str, update_all: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = update.run(repo, list(names), update_all=update_all, out=out)
    return code, out.getvalue()


def answers(project: Path) -> dict[str, object]:
    loaded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "-uall")


def test_new_records_the_release_commit_not_the_head(repo: Path) -> None:
    release = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"services/README.md": "Services, stamped from the templates.\n"})
    commit_all(repo, "a commit after the release")
    output = stamp(repo)
    demo = repo / "services" / "demo"
    assert (demo / "app.py").read_text() == 'NAME = "demo"\nGREETING = "hello"\n'
    recorded = answers(demo)
    assert recorded["_commit"] == release
    assert recorded["_template_version"] == "1.0.0"
    assert recorded["_src_path"] == "."
    assert git(repo, "tag", "--list") == ""
    assert "./pants run services/demo:serve" in output


def test_a_dirty_tree_elsewhere_does_not_matter_but_dirty_templates_are_refused(
    repo: Path,
) -> None:
    (repo / "notes.txt").write_text("untracked\n", encoding="utf-8")
    stamp(repo)
    recorded = answers(repo / "services" / "demo")["_commit"]
    assert git(repo, "cat-file", "-t", str(recorded)).strip() == "commit"

    (repo / "templates" / "service" / "app.py.jinja").write_text("EDITED = True\n")
    with pytest.raises(SlipwayError, match=r"uncommitted changes \(templates/service/app.py"):
        target.choose(repo)
    with pytest.raises(SlipwayError, match="uncommitted changes"):
        run_update(repo, update_all=True)


def test_plain_copier_copy_on_a_dirty_tree_records_a_commit_of_main(repo: Path) -> None:
    (repo / "notes.txt").write_text("untracked, so Copier renders a throwaway commit\n")
    with contextlib.chdir(repo):
        copier.run_copy(
            ".", "services/plain", data={"template": "service", "name": "plain"},
            defaults=True, unsafe=True, quiet=True,
        )  # fmt: skip
    recorded = answers(repo / "services" / "plain")["_commit"]
    assert recorded == git(repo, "rev-parse", "HEAD").strip()


def test_release_drift_update_drift_and_plain_copier_is_a_no_op(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    stamp(repo)
    code, report = run_drift(repo)
    assert code == 0
    assert report["newest"] == "1.0.0"
    rows = report["projects"]
    assert isinstance(rows, list)
    [row] = rows
    assert (row["version"], row["commit"], row["state"]) == ("1.0.0", first, "current")

    second = release_v2(repo)
    code, report = run_drift(repo)
    assert code == 1
    assert report["projects"][0]["state"] == "behind"  # type: ignore[index]

    code, output = run_update(repo, "demo")
    assert (code, output) == (0, "services/demo: updated 1.0.0 -> 2.0.0, 3 files changed\n")
    demo = repo / "services" / "demo"
    assert (demo / "CHANGELOG.md").read_text() == "# demo changelog\n"
    assert answers(demo)["_commit"] == second
    commit_all(repo, "update demo")

    assert run_drift(repo)[0] == 0
    assert run_update(repo, update_all=True) == (0, "services/demo: already current (2.0.0)\n")
    with contextlib.chdir(repo):
        copier.run_update("services/demo", unsafe=True, defaults=True, overwrite=True, quiet=True)
    assert status(repo) == ""


def test_update_leaves_inline_conflicts_and_exits_1(repo: Path) -> None:
    stamp(repo)
    app = repo / "services" / "demo" / "app.py"
    app.write_text('NAME = "demo"\nGREETING = "howdy"\n', encoding="utf-8")
    commit_all(repo, "demo says howdy")
    release_v2(repo)

    code, output = run_update(repo, "services/demo")
    assert code == 1
    assert output.startswith("services/demo: conflicts (1.0.0 -> 2.0.0) in\n")
    assert "    services/demo/app.py\n" in output
    text = app.read_text()
    assert "<<<<<<< before updating" in text
    assert 'GREETING = "howdy"' in text
    assert 'GREETING = "hello, world"' in text


def test_a_conflict_does_not_stop_update_all_and_stays_marked_unmerged(repo: Path) -> None:
    """Copier marks a conflicted file unmerged in the index; the next project's update must
    still run (Copier's `git write-tree` refuses an unmerged index), and the mark must stay."""
    stamp(repo, "alpha")
    stamp(repo, "beta")
    app = repo / "services" / "alpha" / "app.py"
    app.write_text('NAME = "alpha"\nGREETING = "howdy"\n', encoding="utf-8")
    commit_all(repo, "alpha says howdy")
    release_v2(repo)

    code, output = run_update(repo, update_all=True)
    assert code == 1
    assert "services/alpha: conflicts (1.0.0 -> 2.0.0) in\n    services/alpha/app.py\n" in output
    assert "services/beta: updated 1.0.0 -> 2.0.0" in output, output
    assert "failed" not in output
    assert 'GREETING = "hello, world"' in (repo / "services" / "beta" / "app.py").read_text()
    unmerged = git(repo, "ls-files", "--unmerged", "--", "services/alpha/app.py")
    assert [line.split()[2] for line in unmerged.splitlines()] == ["1", "2", "3"]
    assert git(repo, "ls-files", "--unmerged", "--", "services/beta") == ""


def test_update_refuses_a_dirty_project_and_changes_nothing(repo: Path) -> None:
    stamp(repo)
    release_v2(repo)
    (repo / "services" / "demo" / "scratch.txt").write_text("work in progress\n")
    before = status(repo)
    with pytest.raises(SlipwayError, match=r"uncommitted changes(.|\n)*services/demo/scratch"):
        run_update(repo, update_all=True)
    assert status(repo) == before


def test_a_migration_runs_when_the_update_crosses_its_release(repo: Path) -> None:
    stamp(repo)
    app = repo / "services" / "demo" / "app.py"
    app.write_text('NAME = "demo"\nGREETING = "hello"\nEXTRA = "ours"\n', encoding="utf-8")
    commit_all(repo, "demo's own line")
    write(repo, {"templates/releases.yml": "releases:\n  - version: 2.0.0\n  - version: 1.0.0\n",
                 "templates/service/CHANGELOG.md.jinja": "# changes\n"})  # fmt: skip
    commit_all(repo, "template 2.0.0")
    assert run_update(repo, update_all=True)[0] == 0
    commit_all(repo, "demo at 2.0.0: 3.0.0's migration did not run")
    assert app.exists()

    template = repo / "templates" / "service"
    (template / "app.py.jinja").rename(template / "application.py.jinja")
    write(repo, {"templates/releases.yml": "releases:\n  - version: 3.0.0\n  - version: 2.0.0\n"
                 "  - version: 1.0.0\n"})  # fmt: skip
    commit_all(repo, "template 3.0.0 renames app.py")
    # The migration moves the project's own file first, so its edit survives the rename; the
    # three-way merge then meets the template's version of the new file.
    _, output = run_update(repo, "demo")
    assert "services/demo" in output
    moved = repo / "services" / "demo" / "application.py"
    assert not app.exists()
    assert 'EXTRA = "ours"' in moved.read_text()


def test_drift_flags_template_changes_without_a_release(repo: Path) -> None:
    stamp(repo)
    write(repo, {"templates/service/app.py.jinja": "CHANGED = True\n"})
    commit_all(repo, "a template change that forgot its release")
    code, report = run_drift(repo)
    assert code == 1
    assert report["projects"][0]["state"] == "changed"  # type: ignore[index]


def test_drift_fails_for_a_commit_it_cannot_find(repo: Path) -> None:
    stamp(repo)
    answers_file = repo / "services" / "demo" / ".copier-answers.yml"
    text = answers_file.read_text()
    recorded = str(answers(repo / "services" / "demo")["_commit"])
    answers_file.write_text(text.replace(recorded, "0" * 40))
    commit_all(repo, "a commit that exists nowhere")
    out = io.StringIO()
    assert drift.run(repo, out=out) == 1
    assert "1 unknown" in out.getvalue()


def test_drift_warns_about_locally_edited_template_owned_files(repo: Path) -> None:
    stamp(repo)
    (repo / "services" / "demo" / "app.py").write_text("LOCAL = 1\n")
    (repo / "services" / "demo" / "README.md").write_text("# ours\n")
    commit_all(repo, "local edits")
    out = io.StringIO()
    assert drift.run(repo, out=out) == 0
    assert "  services/demo: app.py" in out.getvalue().splitlines()


def test_drift_without_a_release_record_is_an_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    git(bare, "init", "--quiet")
    write(bare, {"README.md": "x\n"})
    commit_all(bare, "no templates")
    with pytest.raises(SlipwayError, match="records no template release"):
        drift.run(bare, out=io.StringIO())


def test_a_release_not_yet_on_main_is_pending_and_not_recorded(repo: Path) -> None:
    stamp(repo)
    git(repo, "checkout", "--quiet", "-b", "feature")
    release_v2(repo)
    with pytest.raises(SlipwayError, match="not on main yet"):
        target.choose(repo)
    code, report = run_drift(repo)
    assert code == 0
    assert report["projects"][0]["state"] == "pending"  # type: ignore[index]

    git(repo, "checkout", "--quiet", "main")
    git(repo, "merge", "--quiet", "--ff-only", "feature")
    code, report = run_drift(repo)
    assert code == 1
    assert report["projects"][0]["state"] == "behind"  # type: ignore[index]


def test_update_names_unknown_projects(repo: Path) -> None:
    stamp(repo)
    with pytest.raises(SlipwayError, match=r"unknown project 'nope'. Known projects"):
        run_update(repo, "nope")
    with pytest.raises(SlipwayError, match="--all"):
        run_update(repo)


def test_a_shallow_clone_is_refused_with_the_fix(repo: Path, tmp_path: Path) -> None:
    stamp(repo)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{repo}", str(shallow))
    with pytest.raises(SlipwayError, match=r"shallow(.|\n)*fetch-depth: 0"):
        drift.run(shallow, out=io.StringIO())


def test_plain_copier_refuses_a_release_that_is_only_on_a_branch(repo: Path) -> None:
    git(repo, "checkout", "--quiet", "-b", "feature")
    release_v2(repo)
    with contextlib.chdir(repo), pytest.raises(Exception, match="returned non-zero exit status"):
        copier.run_copy(
            ".", "services/early", data={"template": "service", "name": "early"},
            defaults=True, unsafe=True, quiet=True,
        )  # fmt: skip
    assert not (repo / "services" / "early").exists()


def test_notes_and_docs_do_not_move_a_release(repo: Path) -> None:
    stamp(repo)
    notes = "releases:\n  - version: 1.0.0\n    notes: fixed\n"
    write(
        repo, {"templates/README.md": "How the templates work.\n", "templates/releases.yml": notes}
    )
    commit_all(repo, "docs and release notes only")
    (repo / "templates" / "README.md").write_text("An uncommitted edit of the docs.\n")
    assert run_drift(repo)[0] == 0
    assert run_update(repo, update_all=True) == (0, "services/demo: already current (1.0.0)\n")
    with contextlib.chdir(repo):
        copier.run_update("services/demo", unsafe=True, defaults=True, overwrite=True, quiet=True)
    assert status(repo) == " M templates/README.md\n"


def test_what_the_cli_records_does_not_depend_on_the_release_checkouts_guard(repo: Path) -> None:
    release = git(repo, "rev-parse", "HEAD").strip()
    # A guard that records whatever Copier rendered, as an older guard might: the CLI still
    # records the release's commit, computed by its own code.
    guard = repo / "tooling" / "cli" / "slipway_cli" / "copier_guard.py"
    guard.write_text("import sys\nsys.exit(0)\n", encoding="utf-8")
    commit_all(repo, "an older guard, outside the template inputs")
    write(repo, {"services/README.md": "Later.\n"})
    commit_all(repo, "a later commit")
    out = io.StringIO()
    new.run(repo, "service", "demo", {}, vcs_ref=git(repo, "rev-parse", "HEAD").strip(),
            defaults=True, out=out)  # fmt: skip
    assert answers(repo / "services" / "demo")["_commit"] == release
