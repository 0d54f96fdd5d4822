"""RuleRunner tests for slipway_ruff: real ruff, installed by Pants through pex.

They run inside Pants' own test harness, so they need what the ./pants launcher provides: the
PANTS_PEX_CLI_* variables locating pex-cli, a CPython on PATH and a CA bundle for PyPI.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources

import pytest
from pants.backend.python import target_types_rules
from pants.backend.python.target_types import (
    PythonSourcesGeneratorTarget,
    PythonTestsGeneratorTarget,
)
from pants.core.goals.fix import FixResult
from pants.core.goals.fmt import FmtResult
from pants.core.goals.lint import LintResult
from pants.core.util_rules.partitions import Partitions, _EmptyMetadata
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents
from pants.testutil.rule_runner import QueryRule, RuleRunner

from slipway_ruff import register
from slipway_ruff.rules import (
    RuffCheckFixRequest,
    RuffCheckLintRequest,
    RuffFormatRequest,
    ruff_check_argv,
    ruff_format_argv,
)
from slipway_ruff.subsystems import RuffCheckFieldSet, RuffFormatFieldSet, ancestor_dirs

# What the ./pants launcher exports for Pants to find pex-cli and trust PyPI's certificate,
# plus what Pants needs to find a Python interpreter.
INHERITED_ENV = {
    "PANTS_PEX_CLI_VERSION",
    "PANTS_PEX_CLI_URL_TEMPLATE",
    "PANTS_PEX_CLI_KNOWN_VERSIONS",
    "PANTS_CA_CERTS_PATH",
    "PATH",
    "PYENV_ROOT",
    "HOME",
}

# The repository's ruff settings that matter here: isort (I) and bandit (S) come from config.
PYPROJECT = """\
[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "I", "S"]
"""

CLEAN = "import os\nimport sys\n\nprint(os.sep, sys.argv)\n"
# I001 (unsorted imports, fixable), S101 (assert) and S307 (eval): not fixable.
VIOLATIONS = "import sys\nimport os\n\nassert sys.argv\nprint(eval(os.sep))\n"
VIOLATIONS_FIXED = "import os\nimport sys\n\nassert sys.argv\nprint(eval(os.sep))\n"
# Only a fixable violation: unsorted imports.
UNSORTED = "import sys\nimport os\n\nprint(os.sep, sys.argv)\n"
BADLY_FORMATTED = "x = {  'a':1 }\ndef f( y ):\n  return y\n"
FORMATTED = 'x = {"a": 1}\n\n\ndef f(y):\n    return y\n'


@pytest.fixture
def rule_runner() -> RuleRunner:
    ca_certs = os.environ.get("PANTS_CA_CERTS_PATH") or os.environ.get("SSL_CERT_FILE")
    runner = RuleRunner(
        rules=[
            *register.rules(),
            *target_types_rules.rules(),
            QueryRule(LintResult, [RuffCheckLintRequest.Batch]),
            QueryRule(FixResult, [RuffCheckFixRequest.Batch]),
            QueryRule(FmtResult, [RuffFormatRequest.Batch]),
            QueryRule(Partitions, [RuffCheckLintRequest.PartitionRequest]),
            QueryRule(Partitions, [RuffFormatRequest.PartitionRequest]),
            QueryRule(SourceFiles, [SourceFilesRequest]),
            QueryRule(DigestContents, [Digest]),
        ],
        target_types=[PythonSourcesGeneratorTarget, PythonTestsGeneratorTarget],
        ca_certs_path=ca_certs,
    )
    set_options(runner)
    return runner


def set_options(rule_runner: RuleRunner, *args: str) -> None:
    rule_runner.set_options(
        [
            "--python-interpreter-constraints=['CPython>=3.8,<4']",
            "--python-bootstrap-search-path=['<PATH>', '<PYENV>']",
            # A machine-wide pip config (constraints, mirrors) must not reach pex's pip.
            "--subprocess-environment-env-vars=['PIP_CONFIG_FILE=/dev/null']",
            *args,
        ],
        env_inherit=INHERITED_ENV,
    )


def write(rule_runner: RuleRunner, files: Mapping[str, str], *, build: str = "") -> None:
    rule_runner.write_files(
        {"pyproject.toml": PYPROJECT, "src/BUILD": build or "python_sources()", **files}
    )


def field_sets(rule_runner: RuleRunner, names: Iterable[str]) -> list[RuffCheckFieldSet]:
    return [
        RuffCheckFieldSet.create(rule_runner.get_target(Address("src", relative_file_path=name)))
        for name in names
    ]


def run_lint(rule_runner: RuleRunner, names: Iterable[str]) -> LintResult:
    batch = RuffCheckLintRequest.Batch(
        "", tuple(field_sets(rule_runner, names)), partition_metadata=_EmptyMetadata()
    )
    return rule_runner.request(LintResult, [batch])


def snapshot_of(rule_runner: RuleRunner, names: Iterable[str]) -> SourceFiles:
    sources = [fs.source for fs in field_sets(rule_runner, names)]
    return rule_runner.request(SourceFiles, [SourceFilesRequest(sources)])


def run_fix(rule_runner: RuleRunner, names: Iterable[str]) -> FixResult:
    snapshot = snapshot_of(rule_runner, names).snapshot
    batch = RuffCheckFixRequest.Batch(
        "", snapshot.files, partition_metadata=_EmptyMetadata(), snapshot=snapshot
    )
    return rule_runner.request(FixResult, [batch])


def run_fmt(rule_runner: RuleRunner, names: Iterable[str]) -> FmtResult:
    snapshot = snapshot_of(rule_runner, names).snapshot
    batch = RuffFormatRequest.Batch(
        "", snapshot.files, partition_metadata=_EmptyMetadata(), snapshot=snapshot
    )
    return rule_runner.request(FmtResult, [batch])


def output_contents(rule_runner: RuleRunner, result: FixResult) -> dict[str, str]:
    contents = rule_runner.request(DigestContents, [result.output.digest])
    return {fc.path: fc.content.decode() for fc in contents}


def test_lint_reports_isort_and_bandit_violations(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/bad.py": VIOLATIONS, "src/good.py": CLEAN})
    result = run_lint(rule_runner, ["bad.py", "good.py"])
    assert result.exit_code == 1
    assert "I001" in result.stdout
    assert "S101" in result.stdout
    assert "S307" in result.stdout
    assert "src/bad.py" in result.stdout
    assert "src/good.py" not in result.stdout


def test_lint_passes_clean_files(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/good.py": CLEAN})
    result = run_lint(rule_runner, ["good.py"])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_lint_honours_config_option_and_args(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/bad.py": VIOLATIONS, "custom/ruff.toml": 'lint.select = ["I"]\n'})
    set_options(rule_runner, "--ruff-check-config=custom/ruff.toml")
    result = run_lint(rule_runner, ["bad.py"])
    assert result.exit_code == 1
    assert "I001" in result.stdout
    assert "S101" not in result.stdout

    set_options(rule_runner, "--ruff-check-args=--ignore=I001,S101,S307")
    assert run_lint(rule_runner, ["bad.py"]).exit_code == 0


def test_lint_respects_force_exclude(rule_runner: RuleRunner) -> None:
    # Pants names files explicitly; ruff must still honour its `exclude` settings.
    excluding = PYPROJECT.replace("[tool.ruff]\n", '[tool.ruff]\nextend-exclude = ["src/bad.py"]\n')
    write(rule_runner, {"pyproject.toml": excluding, "src/bad.py": VIOLATIONS})
    assert run_lint(rule_runner, ["bad.py"]).exit_code == 0


def test_fix_fixes_fixable_violations(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/unsorted.py": UNSORTED, "src/bad.py": VIOLATIONS})
    result = run_fix(rule_runner, ["unsorted.py", "bad.py"])
    assert result.did_change
    assert output_contents(rule_runner, result) == {
        "src/unsorted.py": CLEAN,
        # The import order is fixed; assert and eval are for `lint` to report.
        "src/bad.py": VIOLATIONS_FIXED,
    }


def test_fix_leaves_clean_files_alone(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/good.py": CLEAN})
    result = run_fix(rule_runner, ["good.py"])
    assert not result.did_change


def test_fmt_reformats(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/ugly.py": BADLY_FORMATTED, "src/good.py": CLEAN})
    result = run_fmt(rule_runner, ["ugly.py", "good.py"])
    assert result.did_change
    assert output_contents(rule_runner, result) == {"src/ugly.py": FORMATTED, "src/good.py": CLEAN}


def test_fmt_leaves_formatted_files_alone(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/good.py": FORMATTED})
    assert not run_fmt(rule_runner, ["good.py"]).did_change


def test_install_from_resolve(rule_runner: RuleRunner) -> None:
    # The repository installs ruff from a resolve: exercise that path with a resolve made from
    # the lockfile the plugin ships.
    lockfile = resources.files("slipway_ruff").joinpath("ruff.lock").read_text()
    write(
        rule_runner,
        {
            "src/bad.py": VIOLATIONS,
            "3rdparty/ruff.lock": lockfile,
            "3rdparty/BUILD": (
                "python_requirement(name='ruff', requirements=['ruff>=0.15,<1'], resolve='tools')"
            ),
        },
    )
    set_options(
        rule_runner,
        "--python-enable-resolves",
        "--python-resolves={'python-default': 'unused.lock', 'tools': '3rdparty/ruff.lock'}",
        "--ruff-check-install-from-resolve=tools",
        "--ruff-format-install-from-resolve=tools",
    )
    assert run_lint(rule_runner, ["bad.py"]).exit_code == 1


def test_skip_option(rule_runner: RuleRunner) -> None:
    write(rule_runner, {"src/bad.py": VIOLATIONS})
    target = rule_runner.get_target(Address("src", relative_file_path="bad.py"))
    check_request = RuffCheckLintRequest.PartitionRequest((RuffCheckFieldSet.create(target),))
    format_request = RuffFormatRequest.PartitionRequest((RuffFormatFieldSet.create(target),))

    def partitions() -> tuple[Partitions, Partitions]:
        return (
            rule_runner.request(Partitions, [check_request]),
            rule_runner.request(Partitions, [format_request]),
        )

    check, fmt = partitions()
    assert len(check) == 1
    assert len(fmt) == 1
    set_options(rule_runner, "--ruff-check-skip", "--ruff-format-skip")
    check, fmt = partitions()
    assert len(check) == 0
    assert len(fmt) == 0


def test_skip_fields(rule_runner: RuleRunner) -> None:
    write(
        rule_runner,
        {"src/a.py": CLEAN, "src/b.py": CLEAN},
        build=(
            "python_sources(name='checked', sources=['a.py'], skip_ruff_format=True)\n"
            "python_sources(name='formatted', sources=['b.py'], skip_ruff_check=True)\n"
        ),
    )
    a = rule_runner.get_target(Address("src", target_name="checked", relative_file_path="a.py"))
    b = rule_runner.get_target(Address("src", target_name="formatted", relative_file_path="b.py"))
    assert not RuffCheckFieldSet.opt_out(a)
    assert RuffFormatFieldSet.opt_out(a)
    assert RuffCheckFieldSet.opt_out(b)
    assert not RuffFormatFieldSet.opt_out(b)


def test_config_discovery_includes_nested_config(rule_runner: RuleRunner) -> None:
    # A ruff.toml next to the file wins over pyproject.toml, as with ruff run by hand.
    write(rule_runner, {"src/bad.py": VIOLATIONS, "src/ruff.toml": 'lint.select = ["E"]\n'})
    assert run_lint(rule_runner, ["bad.py"]).exit_code == 0


def test_argv() -> None:
    class Options:
        config = None
        config_args = ("--config", "c.toml")
        args = ("--preview",)

    options = Options()
    assert ruff_check_argv(options, ["a.py"], fix=False) == (  # type: ignore[arg-type]
        "check",
        "--force-exclude",
        "--no-cache",
        "--config",
        "c.toml",
        "--preview",
        "a.py",
    )
    assert ruff_check_argv(options, ["a.py"], fix=True)[:3] == (  # type: ignore[arg-type]
        "check",
        "--fix",
        "--exit-zero",
    )
    assert ruff_format_argv(options, ["a.py"]) == (  # type: ignore[arg-type]
        "format",
        "--force-exclude",
        "--no-cache",
        "--config",
        "c.toml",
        "--preview",
        "a.py",
    )


def test_ancestor_dirs() -> None:
    assert ancestor_dirs(["a/b/c", "a/d"]) == ["", "a", "a/b", "a/b/c", "a/d"]
