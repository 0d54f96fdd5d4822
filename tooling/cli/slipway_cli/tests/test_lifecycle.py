"""End to end with real git and Copier: stamp a project, release the template, drift, update."""

import io
import json
from pathlib import Path

import pytest
import yaml

from slipway_cli.commands import drift, new, update
from slipway_cli.errors import SlipwayError
from slipway_cli.tests.conftest import TEMPLATE_V2, commit_all, git, write


def stamp(repo: Path, name: str = "demo", kind: str = "service", vcs_ref: str | None = None) -> str:
    """Stamp a project with the `new` command, commit it; return the command's output."""
    out = io.StringIO()
    assert new.run(repo, kind, name, {}, vcs_ref=vcs_ref, defaults=True, out=out) == 0
    commit_all(repo, f"stamp {name}")
    return out.getvalue()


def release_v2(repo: Path) -> None:
    """Change a line of the template and add a file, commit, tag v2.0.0."""
    write(repo, TEMPLATE_V2)
    commit_all(repo, "template v2", tag="v2.0.0")


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


def test_new_stamps_from_the_newest_tag_like_plain_copier(repo: Path) -> None:
    output = stamp(repo)
    demo = repo / "services" / "demo"
    assert (demo / "app.py").read_text() == 'NAME = "demo"\nGREETING = "hello"\n'
    assert (demo / "README.md").read_text() == "# demo\n\nOwned by platform-team.\n"
    recorded = answers(demo)
    assert recorded["_src_path"] == "."
    assert recorded["_commit"] == "v1.0.0"
    assert (recorded["template"], recorded["name"]) == ("service", "demo")
    assert "./pants lint check test services/demo::" in output
    assert "./pants run services/demo:serve" in output


def test_new_passes_data_and_stamps_libs_into_libs(repo: Path) -> None:
    out = io.StringIO()
    new.run(repo, "service", "billing", {"owner": "payments"}, defaults=True, out=out)
    assert "Owned by payments." in (repo / "services/billing/README.md").read_text()
    new.run(repo, "lib", "money", {}, defaults=True, out=out)
    assert (repo / "libs/money/README.md").read_text() == "# lib money\n"
    assert "pants run" not in out.getvalue().split("libs/money")[-1]


@pytest.mark.parametrize(
    ("name", "message"),
    [("BadName", "kebab-case"), ("platform", "reserved"), ("demo", "already exists")],
)
def test_new_refuses_bad_names_before_writing_anything(repo: Path, name: str, message: str) -> None:
    stamp(repo)
    with pytest.raises(SlipwayError, match=message):
        new.run(repo, "lib", name, {}, defaults=True, out=io.StringIO())
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / "libs" / name).exists()


def test_new_reports_copier_errors_and_leaves_nothing_behind(repo: Path) -> None:
    with pytest.raises(SlipwayError, match="copier copy failed"):
        new.run(
            repo, "service", "billing", {}, vcs_ref="no-such-ref", defaults=True, out=io.StringIO()
        )
    assert not (repo / "services" / "billing").exists()


def test_release_drift_update_drift(repo: Path) -> None:
    stamp(repo)
    assert run_drift(repo) == (
        0,
        {
            "newest": "v1.0.0",
            "projects": [
                {
                    "project": "services/demo",
                    "template": "service",
                    "version": "v1.0.0",
                    "newest": "v1.0.0",
                    "lags": False,
                }
            ],
        },
    )
    release_v2(repo)
    code, report = run_drift(repo)
    assert code == 1
    assert report["newest"] == "v2.0.0"
    assert report["projects"] == [
        {
            "project": "services/demo",
            "template": "service",
            "version": "v1.0.0",
            "newest": "v2.0.0",
            "lags": True,
        }
    ]

    code, output = run_update(repo, "demo")
    assert (code, output) == (0, "services/demo: updated v1.0.0 -> v2.0.0, 3 files changed\n")
    demo = repo / "services" / "demo"
    assert (demo / "CHANGELOG.md").read_text() == "# demo changelog\n"
    assert (demo / "app.py").read_text() == 'NAME = "demo"\nGREETING = "hello, world"\n'
    changed = sorted(line[3:] for line in git(repo, "status", "--porcelain", "-uall").splitlines())
    assert changed == [
        "services/demo/.copier-answers.yml",
        "services/demo/CHANGELOG.md",
        "services/demo/app.py",
    ]
    assert answers(demo)["_commit"] == "v2.0.0"

    commit_all(repo, "update demo")
    assert run_drift(repo)[0] == 0
    assert run_update(repo, update_all=True) == (0, "services/demo: already current (v2.0.0)\n")
    assert git(repo, "status", "--porcelain") == ""


def test_update_leaves_inline_conflicts_and_exits_1(repo: Path) -> None:
    stamp(repo)
    app = repo / "services" / "demo" / "app.py"
    app.write_text('NAME = "demo"\nGREETING = "howdy"\n', encoding="utf-8")
    commit_all(repo, "demo says howdy")
    release_v2(repo)

    code, output = run_update(repo, "services/demo")
    assert code == 1
    assert output.startswith("services/demo: conflicts (v1.0.0 -> v2.0.0) in\n")
    assert "    services/demo/app.py\n" in output
    assert "CHANGELOG" not in output.split("Resolve")[0]
    text = app.read_text()
    assert "<<<<<<< before updating" in text
    assert ">>>>>>> after updating" in text
    assert 'GREETING = "howdy"' in text
    assert 'GREETING = "hello, world"' in text
    assert (repo / "services" / "demo" / "CHANGELOG.md").exists()


def test_update_refuses_a_dirty_tree_and_changes_nothing(repo: Path) -> None:
    stamp(repo)
    release_v2(repo)
    (repo / "libs" / "scratch.txt").write_text("work in progress\n", encoding="utf-8")
    before = git(repo, "status", "--porcelain", "-uall")

    with pytest.raises(SlipwayError, match=r"uncommitted changes(.|\n)*libs/scratch\.txt"):
        run_update(repo, update_all=True)
    assert git(repo, "status", "--porcelain", "-uall") == before
    assert answers(repo / "services" / "demo")["_commit"] == "v1.0.0"
    assert not (repo / "services" / "demo" / "CHANGELOG.md").exists()


def test_update_names_unknown_projects(repo: Path) -> None:
    stamp(repo)
    with pytest.raises(
        SlipwayError, match=r"unknown project 'nope'. Known projects: services/demo"
    ):
        run_update(repo, "nope")
    with pytest.raises(SlipwayError, match="--all"):
        run_update(repo)


def test_drift_of_a_project_stamped_after_the_newest_tag(repo: Path) -> None:
    write(repo, {"services/README.md": "Services, stamped from the templates.\n"})
    commit_all(repo, "a commit after v1.0.0")
    stamp(repo, vcs_ref="HEAD")
    commit = answers(repo / "services" / "demo")["_commit"]
    assert isinstance(commit, str)
    assert commit.startswith("v1.0.0-1-g")
    assert run_drift(repo)[0] == 0
    assert run_update(repo, "demo") == (0, f"services/demo: already current ({commit})\n")
    release_v2(repo)
    assert run_drift(repo)[0] == 1


def test_drift_without_tags_or_projects(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    git(bare, "init", "--quiet")
    out = io.StringIO()
    assert drift.run(bare, out=out) == 0
    assert "No stamped projects" in out.getvalue()


def test_drift_table(repo: Path) -> None:
    stamp(repo)
    stamp(repo, "money", kind="lib")
    release_v2(repo)
    out = io.StringIO()
    assert drift.run(repo, out=out) == 1
    assert out.getvalue().splitlines() == [
        "project        template  version  newest",
        "libs/money     lib       v1.0.0   v2.0.0  behind",
        "services/demo  service   v1.0.0   v2.0.0  behind",
        "",
        "2 of 2 behind v2.0.0: `slipway update libs/money services/demo`",
    ]


def test_a_failed_update_is_reported_per_project(repo: Path) -> None:
    stamp(repo)
    out = io.StringIO()
    assert update.run(repo, ["demo"], vcs_ref="no-such-ref", out=out) == 1
    assert out.getvalue().startswith("services/demo: failed\n    copier update failed:")
    assert git(repo, "status", "--porcelain") == ""
