"""The API contract: the committed openapi.json is what the app serves, and the app keeps it.

After a deliberate API change, regenerate the contract with
`./pants run services/contexts:openapi` and commit it.
"""

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from contexts.main import build_app
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.config import Environment
from slipway.db import DatabaseSettings

# services/<name>/openapi.json, four levels up from src/<package>/tests/api/.
CONTRACT = Path(__file__).resolve().parents[4] / "openapi.json"

# Few examples, a fixed seed, no example database and no exhaustive coverage phase: a quick
# run that is the same every time.
REGENERATE = "run ./pants run services/contexts:openapi and commit it"

FUZZ_CONFIG = """
[generation]
max-examples = 8
deterministic = true
database = "none"

[phases.coverage]
enabled = false
"""


def test_committed_contract_matches_the_app(app: FastAPI) -> None:
    committed: dict[str, Any] = json.loads(CONTRACT.read_text(encoding="utf-8"))
    assert committed == app.openapi(), f"{CONTRACT} is stale: {REGENERATE}"


def fuzzed_app() -> FastAPI:
    """The app for schemathesis: in-memory adapters, SQLite in a temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="contexts-fuzz-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    url = SecretStr(f"sqlite+aiosqlite:///{directory / 'fuzz.db'}")
    settings = Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=url),
        redis=None,
    )
    return build_app(settings)


# Loaded at import: schemathesis' pytest integration needs the schema to collect the tests
# (it runs the app's lifespan itself, until the process exits). The event stream never ends,
# so fuzzing it only waits for timeouts: tests/api/test_events_sse.py covers it.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", fuzzed_app(), config=SchemathesisConfig.from_str(FUZZ_CONFIG)
).exclude(path="/v1/events")


# The routes need a bearer token: a development one with every scope, so requests get past 401.
FUZZ_TOKEN = mint_token(
    hs256_signing_key(DEV_HS256_SECRET),
    issuer=DEV_ISSUER,
    audience=DEV_AUDIENCE,
    subject="fuzzer",
    scopes=["contexts:read", "contexts:write"],
    expires_in=3600,
)


@schema.parametrize()
def test_no_request_makes_the_service_fail(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {FUZZ_TOKEN}"}, checks=[not_a_server_error]
    )
