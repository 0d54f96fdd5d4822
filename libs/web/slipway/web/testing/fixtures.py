"""The plugin's fixtures: `service` (the service defines it), `settings`, `app`, `client`, and
`fuzz_openapi` / `fuzz_headers` for `ContractSuite`'s fuzzing."""

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from slipway.config import ServiceSettings
from slipway.web.service import Service
from slipway.web.testing.client import app_client


@pytest.fixture
def service() -> Service[Any]:
    """The service under test: override it in the service's conftest.py."""
    pytest.fail(
        "define a `service` fixture in conftest.py returning the service's Service, "
        "e.g. `return contexts.main.service`",
        pytrace=False,
    )


@pytest.fixture
def settings(service: Service[Any]) -> ServiceSettings:
    """The service's default settings in the `test` environment; override to change them."""
    defaults: ServiceSettings = service.openapi_settings()
    return defaults


@pytest.fixture
def app(service: Service[Any], settings: ServiceSettings) -> FastAPI:
    """The service's app, built from `settings` as in production."""
    return service.build_app(settings)


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to `app` through ASGITransport, its lifespan running."""
    async with app_client(app) as http:
        yield http


@pytest.fixture
def fuzz_openapi(app: FastAPI) -> object:
    """The app's schema for schemathesis (`slipway.web.testing.fuzz.fuzz_schema`)."""
    from slipway.web.testing.fuzz import fuzz_schema  # schemathesis loads only when fuzzing

    return fuzz_schema(app)


@pytest.fixture
def fuzz_headers() -> Mapping[str, str]:
    """Headers sent with every fuzzed request: none; override with e.g. a bearer token."""
    return {}
