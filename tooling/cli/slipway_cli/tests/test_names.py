"""Project names: the root copier.yml's rule, the same from plain Copier and from `slipway new`."""

import contextlib
import io
import os
import shutil
from pathlib import Path

import copier
import pytest

from slipway_cli.commands import new
from slipway_cli.commands.new import parse_data
from slipway_cli.errors import SlipwayError
from slipway_cli.names import KIND_DIRS, refusal, unanswered
from slipway_cli.tests.conftest import commit_all, git, write

# The real rule and its data, at their repository paths in the test sandbox.
RULE_FILES = ("copier.yml", "3rdparty/python/reserved-names.yml")


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """The real copier.yml and reserved names over stub templates, with a hand-written lib
    (libs/config, no answers file) and a stamped service (services/billing)."""
    root = tmp_path / "monorepo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    for relative in RULE_FILES:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(relative, root / relative)
    write(
        root,
        {
            "templates/service/README.md.jinja": "# {{ name }}\n\nOwned by {{ team }}.\n",
            "templates/lib/README.md.jinja": "# slipway.{{ package }}\n",
            "libs/config/README.md": "# slipway.config\n",
            "services/billing/.copier-answers.yml": "template: service\nname: billing\n",
            "services/billing/README.md": "# billing\n",
        },
    )
    commit_all(root, "the real rules over stub templates")
    return root


def plain_copier(root: Path, kind: str, name: str, **options: object) -> copier.Worker:
    """`copier copy --trust --defaults --data template=KIND --data name=NAME . DIR/NAME`."""
    with contextlib.chdir(root):
        return copier.run_copy(
            ".",
            f"{KIND_DIRS[kind]}/{name}",
            data={"template": kind, "name": name},
            defaults=True,
            unsafe=True,
            quiet=True,
            **options,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("kind", "name", "says"),
    [
        ("service", "Billing", '"Billing" is not kebab-case'),
        ("service", "my_service", '"my-service" would do'),
        ("lib", "x" * 31, "longer than 30 characters"),
        ("service", "slipway-admin", "is reserved"),
        ("lib", "tooling", "is reserved"),
        ("service", "class", "is a Python keyword"),
        ("service", "json", "shadows the standard library's json module"),
        ("lib", "tomllib", "shadows the standard library's tomllib module"),
        ("service", "fastapi", "a third-party library (fastapi in 3rdparty/python/default.lock)"),
        # Locked, but missing from the hand-kept list this file replaced.
        ("service", "idna", "(idna in 3rdparty/python/default.lock)"),
        ("service", "hypothesis-graphql", "(hypothesis-graphql in"),
        ("service", "httpx2", "(httpx2 in"),
        ("lib", "httpcore2", "(httpcore2 in"),
        ("service", "mcp-types", "(mcp-types in"),
        ("service", "attr", "(attrs in"),  # a module of a distribution, not its name
        ("lib", "config", "libs/config (slipway.config) already exists"),
        ("service", "config", "libs/config (slipway.config) already exists"),
        ("lib", "billing", "services/billing already exists"),
        ("service", "billing", "already holds a stamped project"),
    ],
)
def test_a_refused_name_gets_the_same_message_from_copier_and_slipway_new(
    monorepo: Path, kind: str, name: str, says: str
) -> None:
    before = git(monorepo, "status", "--porcelain", "-uall")
    with pytest.raises(ValueError, match=r"^Validation error for question 'name': ") as by_copier:
        plain_copier(monorepo, kind, name)
    message = str(by_copier.value)
    assert says in message
    assert "\n" not in message

    with pytest.raises(SlipwayError) as by_slipway:
        new.run(monorepo, kind, name, {}, defaults=True, out=io.StringIO())
    assert by_slipway.value.message == message
    assert git(monorepo, "status", "--porcelain", "-uall") == before


@pytest.mark.parametrize(
    ("kind", "name"), [("service", "ledger"), ("service", "x" * 30), ("lib", "idna-client")]
)
def test_a_free_name_passes_and_the_team_defaults_to_platform(
    monorepo: Path, kind: str, name: str
) -> None:
    worker = plain_copier(monorepo, kind, name, pretend=True)
    assert worker.answers.user["team"] == "platform"
    assert git(monorepo, "status", "--porcelain", "-uall") == ""


def test_overwriting_checks_the_form_of_the_name_not_whether_it_is_free(monorepo: Path) -> None:
    # `copier update` always overwrites, as does a deliberate `copy --overwrite`.
    plain_copier(monorepo, "service", "billing", overwrite=True, pretend=True)
    plain_copier(monorepo, "service", "idna", overwrite=True, pretend=True)
    with pytest.raises(ValueError, match="is not kebab-case"):
        plain_copier(monorepo, "service", "Billing", overwrite=True, pretend=True)


def test_a_render_outside_any_repository_uses_the_template_s_reserved_names(
    monorepo: Path, tmp_path: Path
) -> None:
    # `slipway drift` renders a project's release into a scratch directory to compare with it.
    def render(dst: Path) -> None:
        with contextlib.chdir(monorepo):
            copier.run_copy(
                ".",
                dst,
                {"template": "service"},
                defaults=True,
                unsafe=True,
                quiet=True,
                pretend=True,
            )

    render(tmp_path / "scratch" / "services" / "ledger")
    with pytest.raises(ValueError, match=r"\(idna in 3rdparty/python/default.lock\)"):
        render(tmp_path / "scratch" / "services" / "idna")


def test_copier_user_settings_choose_another_default_team(monorepo: Path) -> None:
    Path(os.environ["COPIER_SETTINGS_PATH"]).write_text("defaults:\n  team: payments\n")
    worker = plain_copier(monorepo, "service", "ledger", pretend=True)
    assert worker.answers.user["team"] == "payments"


def test_copier_s_verdicts_are_told_apart_from_other_errors() -> None:
    refused = ValueError("Validation error for question 'name': \"json\" would shadow json")
    assert refusal(refused) == str(refused)
    assert refusal(ValueError("something else")) is None
    assert refusal(RuntimeError(str(refused))) is None
    assert unanswered(ValueError('Question "team" is required')) == "team"
    assert unanswered(ValueError('Question "team" is required, really')) is None
    assert unanswered(refused) is None


def test_parse_data() -> None:
    assert parse_data(["owner=team-a", "port=8080", "motto=a=b"]) == {
        "owner": "team-a",
        "port": "8080",
        "motto": "a=b",
    }


@pytest.mark.parametrize("pair", ["novalue", "=value", "name=x", "template=lib"])
def test_parse_data_refuses_malformed_or_owned_keys(pair: str) -> None:
    with pytest.raises(SlipwayError):
        parse_data([pair])
