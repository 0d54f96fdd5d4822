"""Test a Slipway service: a pytest plugin with app and client fixtures, and shared suites.

In a service's tests/conftest.py::

    pytest_plugins = ["slipway.web.testing"]


    @pytest.fixture
    def service() -> Service[Settings]:
        return main.service

gives `settings` (override it freely), `app` and `client`; `ProbeSuite` and `ContractSuite`
are test classes to subclass in one line. `app_client(app)` runs an app's lifespan around an
in-process httpx client for tests that build their own app.
"""

from typing import TYPE_CHECKING, Any

import pytest

# Before the suites are imported, so their plain asserts report like the test's own.
pytest.register_assert_rewrite(
    "slipway.web.testing.suites", "slipway.web.testing.contract", "slipway.web.testing.fuzz"
)

from slipway.web.testing.client import app_client  # noqa: E402
from slipway.web.testing.contract import assert_contract  # noqa: E402
from slipway.web.testing.fixtures import (  # noqa: E402
    app,
    client,
    fuzz_headers,
    fuzz_openapi,
    service,
    settings,
)
from slipway.web.testing.suites import (  # noqa: E402
    ProbeSuite,
    assert_problem,
    concrete_path,
    service_operations,
)

__all__ = [
    "ContractSuite",
    "ProbeSuite",
    "app",
    "app_client",
    "assert_contract",
    "assert_problem",
    "client",
    "concrete_path",
    "fuzz_headers",
    "fuzz_openapi",
    "service",
    "service_operations",
    "settings",
]

if TYPE_CHECKING:
    from slipway.web.testing.fuzz import ContractSuite


def __getattr__(name: str) -> Any:
    # ContractSuite imports schemathesis: only suites that fuzz pay for it.
    if name == "ContractSuite":
        from slipway.web.testing.fuzz import ContractSuite

        return ContractSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
