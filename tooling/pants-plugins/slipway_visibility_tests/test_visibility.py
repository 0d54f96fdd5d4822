"""The layering rules of services/BUILD and libs/BUILD, enforced by Pants' visibility backend.

The real BUILD files (in the sandbox through their `file` targets) are loaded into a scratch
workspace shaped like Slipway: a root `python_requirements`, two libs and two services laid out
as `services/<svc>/src/<pkg>/{main.py,settings.py,api/,domain/,adapters/,tests/}` with tailor's
plain per-directory BUILD files. Dependencies come from import inference, as in the repository,
and `dependencies` resolves them, which is where Pants checks the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pants.backend.project_info import dependencies
from pants.backend.project_info.dependencies import Dependencies
from pants.backend.python import target_types_rules
from pants.backend.python.dependency_inference import rules as dependency_inference_rules
from pants.backend.python.macros import python_requirements
from pants.backend.python.macros.python_requirements import PythonRequirementsTargetGenerator
from pants.backend.python.target_types import (
    PexBinary,
    PythonRequirementTarget,
    PythonSourcesGeneratorTarget,
    PythonSourceTarget,
    PythonTestsGeneratorTarget,
    PythonTestTarget,
    PythonTestUtilsGeneratorTarget,
)
from pants.backend.visibility import rules as visibility_rules
from pants.core.target_types import FileTarget, TargetGeneratorSourcesHelperTarget
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner

# The files under test, as the repository has them.
SERVICES_BUILD = Path("services/BUILD").read_text()
LIBS_BUILD = Path("libs/BUILD").read_text()

# Third-party requirements: the root BUILD's `python_requirements(name="reqs")`.
REQUIREMENTS = [
    "fastapi",
    "starlette",
    "sse-starlette",
    "uvicorn",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "redis",
    "httpx",
    "structlog",
]

# What services/BUILD keeps out of domain code.
NOT_IN_DOMAIN = {
    "fastapi": "fastapi",
    "starlette": "starlette",
    "sse-starlette": "sse_starlette",
    "uvicorn": "uvicorn",
    "sqlalchemy": "sqlalchemy",
    "asyncpg": "asyncpg",
    "aiosqlite": "aiosqlite",
    "alembic": "alembic",
    "redis": "redis",
    "httpx": "httpx",
}

TAILORED = "python_sources()\n"

# The repository's settings that matter here (pants.toml). `run_goal_rule` sets the options anew
# from its arguments, so every run passes them.
OPTIONS = [
    "--source-root-patterns=['/libs/*', '/services/*/src']",
    "--python-infer-use-rust-parser",
    "--python-infer-unowned-dependency-behavior=error",
]


def lib(name: str, modules: Mapping[str, str]) -> dict[str, str]:
    """A lib as in libs/: libs/<name>/slipway/<name>/ with its modules, namespace `slipway`."""
    root = f"libs/{name}/slipway/{name}"
    return {
        f"{root}/BUILD": TAILORED,
        f"{root}/__init__.py": "",
        **{f"{root}/{module}.py": source for module, source in modules.items()},
    }


def service(svc: str) -> dict[str, str]:
    """A service as the template stamps it, each module importing what its layer may use."""
    src = f"services/{svc}/src/{svc}"
    return {
        # Service root: the deployable and the committed contract.
        f"services/{svc}/BUILD": (
            f'pex_binary(name="app", entry_point="{svc}.main")\n'
            'file(name="openapi", source="openapi.json")\n'
        ),
        f"services/{svc}/openapi.json": "{}\n",
        f"{src}/BUILD": TAILORED,
        f"{src}/__init__.py": "",
        f"{src}/main.py": (
            "import uvicorn\n"
            f"from {svc}.adapters import repository\n"
            f"from {svc}.api import routes\n"
            f"from {svc}.settings import Settings\n"
        ),
        f"{src}/settings.py": "import pydantic\nfrom slipway.config import base\n",
        f"{src}/api/BUILD": TAILORED,
        f"{src}/api/__init__.py": "",
        f"{src}/api/routes.py": (
            "import fastapi\n"
            "from slipway.web import app\n"
            f"from {svc}.domain import model\n"
            f"from {svc}.domain.orders import order\n"
        ),
        f"{src}/api/v1/BUILD": TAILORED,
        f"{src}/api/v1/__init__.py": "",
        f"{src}/api/v1/handlers.py": (
            f"from {svc}.api import routes\nfrom {svc}.domain import model\n"
        ),
        f"{src}/domain/BUILD": TAILORED,
        f"{src}/domain/__init__.py": "",
        # Domain code may use pydantic, the libs, other domain code and the package's settings.
        f"{src}/domain/model.py": (
            "import pydantic\n"
            "from slipway.config import base\n"
            f"from {svc} import settings\n"
            f"from {svc}.domain import rules\n"
        ),
        f"{src}/domain/rules.py": "import structlog\n",
        f"{src}/domain/orders/BUILD": TAILORED,
        f"{src}/domain/orders/__init__.py": "",
        f"{src}/domain/orders/order.py": f"from {svc}.domain import model\n",
        # Tests next to domain code are tests: they may use anything in their service.
        f"{src}/domain/tests/BUILD": "python_tests()\n",
        f"{src}/domain/tests/test_model.py": (
            f"from {svc}.adapters import repository\nfrom {svc}.api import routes\n"
        ),
        f"{src}/adapters/BUILD": TAILORED,
        f"{src}/adapters/__init__.py": "",
        f"{src}/adapters/repository.py": (
            "import redis\n"
            "import sqlalchemy\n"
            "from slipway.db import engine\n"
            f"from {svc}.domain import model\n"
        ),
        f"{src}/tests/BUILD": "python_tests()\npython_test_utils(name='test_utils')\n",
        f"{src}/tests/conftest.py": f"from {svc}.settings import Settings\n",
        f"{src}/tests/test_app.py": (
            "import httpx\n"
            "from slipway.web import app\n"
            f"from {svc} import main\n"
            f"from {svc}.adapters import repository\n"
            f"from {svc}.api import routes\n"
            f"from {svc}.domain import model\n"
        ),
    }


WORKSPACE = {
    "BUILD": 'python_requirements(name="reqs")\n',
    "requirements.txt": "\n".join(REQUIREMENTS) + "\n",
    "libs/BUILD": LIBS_BUILD,
    "services/BUILD": SERVICES_BUILD,
    **lib("config", {"base": "import pydantic\n"}),
    **lib("web", {"app": "import fastapi\nfrom slipway.config import base\n"}),
    **lib("db", {"engine": "import sqlalchemy\n"}),
    **service("alpha"),
    **service("beta"),
}


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *dependencies.rules(),
            *dependency_inference_rules.rules(),
            *python_requirements.rules(),
            *target_types_rules.rules(),
            *visibility_rules.rules(),
        ],
        target_types=[
            FileTarget,
            PexBinary,
            PythonRequirementTarget,
            PythonRequirementsTargetGenerator,
            PythonSourceTarget,
            PythonSourcesGeneratorTarget,
            PythonTestTarget,
            PythonTestsGeneratorTarget,
            PythonTestUtilsGeneratorTarget,
            TargetGeneratorSourcesHelperTarget,
        ],
    )
    runner.write_files(WORKSPACE)
    return runner


def dependencies_of(rule_runner: RuleRunner, *specs: str) -> list[str]:
    result = rule_runner.run_goal_rule(Dependencies, global_args=OPTIONS, args=specs)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


def violation(rule_runner: RuleRunner, spec: str) -> str:
    with pytest.raises(ExecutionError) as caught:
        rule_runner.run_goal_rule(Dependencies, global_args=OPTIONS, args=[spec])
    message = str(caught.value)
    assert "DependencyRuleActionDeniedError" in message, message
    return message


def test_whole_workspace_resolves(rule_runner: RuleRunner) -> None:
    # Every edge of the well-layered workspace passes, for every target (`dependencies ::`).
    assert "//:reqs#fastapi" in dependencies_of(rule_runner, "::")


@pytest.mark.parametrize(
    ("origin", "dependency"),
    [
        # api -> domain, at two depths of each
        ("services/alpha/src/alpha/api/routes.py", "services/alpha/src/alpha/domain/model.py"),
        (
            "services/alpha/src/alpha/api/routes.py",
            "services/alpha/src/alpha/domain/orders/order.py",
        ),
        ("services/alpha/src/alpha/api/v1/handlers.py", "services/alpha/src/alpha/domain/model.py"),
        # adapters -> domain
        (
            "services/alpha/src/alpha/adapters/repository.py",
            "services/alpha/src/alpha/domain/model.py",
        ),
        # main -> api, adapters, settings
        ("services/alpha/src/alpha/main.py", "services/alpha/src/alpha/api/routes.py"),
        ("services/alpha/src/alpha/main.py", "services/alpha/src/alpha/adapters/repository.py"),
        ("services/alpha/src/alpha/main.py", "services/alpha/src/alpha/settings.py"),
        # domain -> domain, settings, libs, pydantic and other requirements
        ("services/alpha/src/alpha/domain/model.py", "services/alpha/src/alpha/domain/rules.py"),
        ("services/alpha/src/alpha/domain/model.py", "services/alpha/src/alpha/settings.py"),
        ("services/alpha/src/alpha/domain/model.py", "libs/config/slipway/config/base.py"),
        ("services/alpha/src/alpha/domain/model.py", "//:reqs#pydantic"),
        ("services/alpha/src/alpha/domain/rules.py", "//:reqs#structlog"),
        (
            "services/alpha/src/alpha/domain/orders/order.py",
            "services/alpha/src/alpha/domain/model.py",
        ),
        # service -> lib, requirements
        ("services/alpha/src/alpha/api/routes.py", "libs/web/slipway/web/app.py"),
        ("services/alpha/src/alpha/api/routes.py", "//:reqs#fastapi"),
        ("services/alpha/src/alpha/adapters/repository.py", "libs/db/slipway/db/engine.py"),
        ("services/alpha/src/alpha/adapters/repository.py", "//:reqs#sqlalchemy"),
        # tests -> anything in their service, also tests inside domain/
        ("services/alpha/src/alpha/tests/test_app.py", "services/alpha/src/alpha/main.py"),
        ("services/alpha/src/alpha/tests/test_app.py", "services/alpha/src/alpha/api/routes.py"),
        (
            "services/alpha/src/alpha/tests/test_app.py",
            "services/alpha/src/alpha/adapters/repository.py",
        ),
        ("services/alpha/src/alpha/tests/test_app.py", "libs/web/slipway/web/app.py"),
        ("services/alpha/src/alpha/tests/conftest.py", "services/alpha/src/alpha/settings.py"),
        (
            "services/alpha/src/alpha/domain/tests/test_model.py",
            "services/alpha/src/alpha/api/routes.py",
        ),
        (
            "services/alpha/src/alpha/domain/tests/test_model.py",
            "services/alpha/src/alpha/adapters/repository.py",
        ),
        # service root: the pex_binary's entry point
        ("services/alpha:app", "services/alpha/src/alpha/main.py"),
        # lib -> lib, requirements
        ("libs/web/slipway/web/app.py", "libs/config/slipway/config/base.py"),
        ("libs/web/slipway/web/app.py", "//:reqs#fastapi"),
    ],
)
def test_allowed(rule_runner: RuleRunner, origin: str, dependency: str) -> None:
    assert dependency in dependencies_of(rule_runner, origin)


def add(rule_runner: RuleRunner, path: str, source: str) -> str:
    rule_runner.write_files({path: source})
    return path


@pytest.mark.parametrize(
    "origin",
    [
        "services/alpha/src/alpha/domain/bad.py",
        # deeper in domain/
        "services/alpha/src/alpha/domain/orders/bad.py",
    ],
)
@pytest.mark.parametrize(("layer", "module"), [("api", "routes"), ("adapters", "repository")])
def test_domain_must_not_depend_on_api_or_adapters(
    rule_runner: RuleRunner, origin: str, layer: str, module: str
) -> None:
    add(rule_runner, origin, f"from alpha.{layer} import {module}\n")
    message = violation(rule_runner, origin)
    assert f"services/BUILD[!//services/*/src/*/{layer}/**]" in message
    dependency = f"services/alpha/src/alpha/{layer}/{module}.py"
    assert f"python_sources {origin} -> python_sources {dependency}" in message


@pytest.mark.parametrize(("requirement", "module"), sorted(NOT_IN_DOMAIN.items()))
def test_domain_must_not_depend_on_io_requirements(
    rule_runner: RuleRunner, requirement: str, module: str
) -> None:
    origin = add(rule_runner, "services/alpha/src/alpha/domain/bad.py", f"import {module}\n")
    message = violation(rule_runner, origin)
    assert f"services/BUILD[!//reqs#{requirement}]" in message
    assert f"{origin} -> python_requirements //:reqs#{requirement}" in message


@pytest.mark.parametrize(
    "origin",
    [
        "services/alpha/src/alpha/bad.py",
        "services/alpha/src/alpha/api/bad.py",
        "services/alpha/src/alpha/api/v1/bad.py",
        "services/alpha/src/alpha/domain/bad.py",
        "services/alpha/src/alpha/adapters/bad.py",
        "services/alpha/src/alpha/tests/test_bad.py",
        "services/alpha/src/alpha/domain/tests/test_bad.py",
    ],
)
def test_service_must_not_depend_on_another_service(rule_runner: RuleRunner, origin: str) -> None:
    add(rule_runner, origin, "from beta.domain import model\n")
    message = violation(rule_runner, origin)
    assert "services/BUILD[!//services/**]" in message
    assert f"{origin} -> python_sources services/beta/src/beta/domain/model.py" in message


def test_service_root_target_must_not_depend_on_another_service(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "services/alpha/BUILD": (
                'pex_binary(name="app", entry_point="alpha.main",'
                ' dependencies=["services/beta/src/beta/main.py"])\n'
            )
        }
    )
    message = violation(rule_runner, "services/alpha:app")
    assert "services/BUILD[!//services/**]" in message
    assert "services/alpha:app -> python_sources services/beta/src/beta/main.py" in message


def test_lib_must_not_depend_on_a_service(rule_runner: RuleRunner) -> None:
    origin = add(rule_runner, "libs/web/slipway/web/bad.py", "from alpha.domain import model\n")
    message = violation(rule_runner, origin)
    assert "libs/BUILD[!//services/**]" in message
    assert f"{origin} -> python_sources services/alpha/src/alpha/domain/model.py" in message


def test_lib_must_not_depend_on_a_service_root_target(rule_runner: RuleRunner) -> None:
    build = 'python_sources(dependencies=["services/beta:openapi"])\n'
    rule_runner.write_files({"libs/config/slipway/config/BUILD": build})
    message = violation(rule_runner, "libs/config/slipway/config/base.py")
    assert "libs/BUILD[!//services/**]" in message
    assert "-> file services/beta:openapi" in message


def test_lib_must_not_depend_on_slipway_mcp(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(lib("mcp", {"endpoint": "from slipway.web import app\n"}))
    origin = add(rule_runner, "libs/web/slipway/web/bad.py", "from slipway.mcp import endpoint\n")
    message = violation(rule_runner, origin)
    assert "libs/BUILD[!//libs/mcp/**]" in message
    assert f"{origin} -> python_sources libs/mcp/slipway/mcp/endpoint.py" in message


def test_slipway_mcp_may_depend_on_the_libs_below_it(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(lib("mcp", {"endpoint": "from slipway.web import app\n"}))
    assert "libs/web/slipway/web/app.py" in dependencies_of(
        rule_runner, "libs/mcp/slipway/mcp/endpoint.py"
    )
