"""`Service`: one entry point (exit 2 on bad configuration) and one OpenAPI export."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slipway.config import ConfigError, Environment
from slipway.web import Service, ServiceParts, render_openapi
from slipway.web.example import __main__ as example_main
from slipway.web.example import app as example
from slipway.web.example import openapi as example_openapi
from slipway.web.example.app import Settings

ONE_SCREEN_LINES = 24


def run_module(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m module args` with this test's import path and `env` added."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_environment_variable_exits_2_with_one_screen_and_no_traceback() -> None:
    result = run_module(example_main.__name__, EXAMPLE_WEB__PORT="eighty")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Invalid configuration for Settings:")
    assert "EXAMPLE_WEB__PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= ONE_SCREEN_LINES


def test_config_error_from_the_composition_root_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(settings: Settings) -> ServiceParts:
        raise ConfigError(Settings, ["EXAMPLE_PLAN: unknown plan 'gold'"])

    service = Service(Settings, refuse, title="refuses", package=example)
    assert service.main() == 2
    err = capsys.readouterr().err
    assert "EXAMPLE_PLAN: unknown plan 'gold'" in err
    assert "Traceback" not in err


def test_build_app_loads_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_VERSION", "9.9.9")
    app = example.service.build_app()
    assert app.title == "Slipway example"
    assert app.version == "9.9.9"
    assert app.description == (
        "A small service built on slipway.web: settings, a versioned router, a resource, probes."
    )


def test_description_is_the_package_docstring_paragraph_on_one_line(tmp_path: Path) -> None:
    package = tmp_path / "services" / "billing" / "src" / "billing_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""The billing service.\n\nInvoices and\n   payments for tenants\n"""\n', encoding="utf-8"
    )
    sys.path.insert(0, str(package.parent))
    try:
        service = Service(Settings, example.compose, title="billing", package="billing_pkg")
    finally:
        sys.path.remove(str(package.parent))
        sys.modules.pop("billing_pkg", None)
    assert service.description == "Invoices and payments for tenants"
    assert service.root == tmp_path.resolve() / "services" / "billing"
    assert service.contract_path == service.root / "openapi.json"


def test_regenerate_command_names_the_service_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    service = Service(Settings, example.compose, title="x", package=example, root="services/x")
    assert service.regenerate_command == "./pants run services/x:openapi"
    assert service.contract_path == Path("services/x/openapi.json")


def test_export_is_byte_identical_across_processes(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for target, seed in ((first, "1"), (second, "2")):
        result = run_module(example_openapi.__name__, str(target), PYTHONHASHSEED=seed)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"wrote {target}\n"
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text(encoding="utf-8"))
    assert first.read_text(encoding="utf-8") == render_openapi(document)
    assert first.read_bytes().endswith(b"}\n")
    app = example.service.build_app(Settings(environment=Environment.TEST))
    assert document == app.openapi()


def test_export_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert example.service.export_openapi(["-"]) == 0
    assert capsys.readouterr().out == render_openapi(example.service.openapi())


def test_check_passes_when_current_and_fails_with_a_diff_when_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "openapi.json"
    service = example.service
    assert service.export_openapi([str(target)]) == 0
    assert service.export_openapi([str(target), "--check"]) == 0
    target.write_text(
        target.read_text(encoding="utf-8").replace("Greet someone", "Greet nobody"),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert service.export_openapi([str(target), "--check"]) == 1
    err = capsys.readouterr().err
    assert '-        "summary": "Greet nobody",' in err
    assert '+        "summary": "Greet someone",' in err
    assert f"{target} is stale: run {service.regenerate_command} and commit it" in err


def test_default_target_outside_the_repository_root_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = Service(
        Settings, example.compose, title="x", package=example, root=tmp_path / "missing"
    )
    assert service.export_openapi([]) == 2
    assert "run from the repository root" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
