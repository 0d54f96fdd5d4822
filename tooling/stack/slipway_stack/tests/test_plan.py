"""What the stack runs: the Procfile, the environment, and that the programs accept both."""

import json
import os
import re
import shlex
import socket
import stat
from pathlib import Path

import pytest

from contexts.settings import Settings as ContextsSettings
from search.settings import Settings as SearchSettings
from slipway.auth.devserver import DevClient, build_server
from slipway.config import load_settings
from slipway_stack.config import StackConfig
from slipway_stack.main import banner, main, user_token_command
from slipway_stack.plan import (
    PROCESS_NAMES,
    SEARCH_CLIENT_ID,
    SEARCH_CLIENT_SCOPES,
    database_url,
    process_environment,
    processes,
    procfile_text,
    stack_environment,
    write_clients_file,
)

VARIABLE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)")


@pytest.fixture
def embedded(tmp_path: Path) -> StackConfig:
    return StackConfig(state_dir=tmp_path / "state")


@pytest.fixture
def on_servers(tmp_path: Path) -> StackConfig:
    return StackConfig(
        state_dir=tmp_path / "state",
        postgres_url="postgresql://app:s3cret@db.internal:5433/postgres",
        redis_url="redis://cache:6379/2",
        redis_key_prefix="dev:",
    )


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CONTEXTS_*/SEARCH_* of the machine's own in the way of a settings load."""
    for name in list(os.environ):
        if name.startswith(("CONTEXTS_", "SEARCH_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_the_procfile_runs_the_three_programs_with_the_stacks_python() -> None:
    specs = processes()
    assert tuple(spec.name for spec in specs) == PROCESS_NAMES
    commands = {spec.name: spec.command for spec in specs}
    assert 'exec "$STACK_PYTHON" -m slipway.auth.devserver' in commands["authz"]
    assert commands["contexts"].endswith('exec "$STACK_PYTHON" -m contexts.main')
    assert commands["search"].endswith('exec "$STACK_PYTHON" -m search.main')
    # Both services wait for the authorization server first; search for contexts too.
    assert "slipway_stack.wait" in commands["contexts"]
    assert '"$STACK_CONTEXTS_URL/health"' in commands["search"]


def test_every_variable_the_procfile_uses_is_in_the_stacks_environment(
    embedded: StackConfig,
) -> None:
    used = set(VARIABLE.findall(procfile_text()))
    assert used, "the Procfile uses no variables?"
    missing = used - set(stack_environment(embedded))
    assert not missing, missing


def test_the_embedded_stack_keeps_sqlite_files_in_the_state_dir(embedded: StackConfig) -> None:
    env = stack_environment(embedded, python="/venv/bin/python", pythonpath=["/a", "", "b"])
    state = embedded.state_dir.resolve()
    assert env["CONTEXTS_DATABASE__URL"] == f"sqlite+aiosqlite:///{state}/contexts.db"
    assert env["SEARCH_DATABASE__URL"] == f"sqlite+aiosqlite:///{state}/search.db"
    assert not any("REDIS" in name for name in env), env
    assert env["STACK_PYTHON"] == "/venv/bin/python"
    assert env["PYTHONPATH"] == os.pathsep.join(["/a", os.path.abspath("b")])
    assert env["CONTEXTS_WEB__PORT"] == "8000"
    assert env["SEARCH_WEB__PORT"] == "8001"
    assert env["STACK_AUTHZ_PORT"] == "9400"


def test_on_servers_each_service_has_its_own_database_and_both_share_redis(
    on_servers: StackConfig,
) -> None:
    env = stack_environment(on_servers)
    assert env["CONTEXTS_DATABASE__URL"] == "postgresql://app:s3cret@db.internal:5433/contexts"
    assert env["SEARCH_DATABASE__URL"] == "postgresql://app:s3cret@db.internal:5433/search"
    assert database_url(on_servers, "search") == env["SEARCH_DATABASE__URL"]
    for prefix in ("CONTEXTS_", "SEARCH_"):
        assert env[f"{prefix}REDIS__URL"] == "redis://cache:6379/2"
        assert env[f"{prefix}REDIS__KEY_PREFIX"] == "dev:"


def test_both_services_verify_rs256_tokens_of_the_authorization_server_by_discovery(
    embedded: StackConfig,
) -> None:
    env = stack_environment(embedded)
    for prefix, audience in (("CONTEXTS_", "contexts"), ("SEARCH_", "search")):
        assert env[f"{prefix}AUTH__ISSUER"] == "http://127.0.0.1:9400"
        assert env[f"{prefix}AUTH__AUDIENCE"] == audience
        assert env[f"{prefix}AUTH__DISCOVERY"] == "true"
        assert json.loads(env[f"{prefix}AUTH__ALGORITHMS"]) == ["RS256"]
    assert env["SEARCH_INDEXING__CONTEXTS__BASE_URL"] == "http://127.0.0.1:8000"


def test_contexts_accepts_the_stacks_environment(
    on_servers: StackConfig, clean_environment: pytest.MonkeyPatch
) -> None:
    for name, value in stack_environment(on_servers).items():
        if name.startswith("CONTEXTS_"):
            clean_environment.setenv(name, value)
    settings = load_settings(ContextsSettings)
    assert settings.web.port == 8000
    assert settings.auth.issuer == "http://127.0.0.1:9400"
    assert settings.auth.audience == "contexts"
    assert settings.auth.algorithms == ("RS256",)
    assert settings.auth.hs256_secret is None
    assert settings.auth.discovers
    assert settings.redis is not None
    assert settings.redis.key_prefix == "dev:"
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value().endswith("/contexts")


def test_search_accepts_the_stacks_environment(
    on_servers: StackConfig, clean_environment: pytest.MonkeyPatch
) -> None:
    for name, value in stack_environment(on_servers).items():
        if name.startswith("SEARCH_"):
            clean_environment.setenv(name, value)
    settings = load_settings(SearchSettings)
    assert settings.web.port == 8001
    assert settings.auth.issuer == "http://127.0.0.1:9400"
    assert settings.auth.audience == "search"
    assert settings.auth.discovers
    assert str(settings.indexing.contexts.base_url).rstrip("/") == "http://127.0.0.1:8000"
    client = settings.indexing.client
    assert client is not None
    assert client.issuer == "http://127.0.0.1:9400"
    assert client.client_id == SEARCH_CLIENT_ID
    assert client.scope == SEARCH_CLIENT_SCOPES
    assert settings.indexing.development_token is None
    assert settings.redis is not None
    assert settings.redis.key_prefix == "dev:"
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value().endswith("/search")


def test_the_authorization_server_accepts_its_procfile_line(embedded: StackConfig) -> None:
    write_clients_file(embedded)
    env = stack_environment(embedded)
    command = next(spec.command for spec in processes() if spec.name == "authz")
    argv = shlex.split(re.sub(r"\$(\w+)", lambda m: shlex.quote(env[m.group(1)]), command))
    assert argv[:4] == ["exec", env["STACK_PYTHON"], "-m", "slipway.auth.devserver"]
    server, host, port = build_server(argv[4:])
    assert (host, port) == ("127.0.0.1", 9400)
    assert server.issuer == "http://127.0.0.1:9400"
    assert server.token_lifetime_seconds == embedded.token_lifetime_seconds
    client = server.clients[SEARCH_CLIENT_ID]
    assert client.scopes == frozenset(SEARCH_CLIENT_SCOPES)
    assert client.audience == "contexts"


def test_the_clients_file_is_private_and_holds_searchs_client(embedded: StackConfig) -> None:
    path = write_clients_file(embedded)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (item,) = json.loads(path.read_text())
    client = DevClient.from_json(item)
    assert client.client_id == "search"
    assert client.client_secret == embedded.client_secret
    # search is told the same secret.
    assert stack_environment(embedded)["SEARCH_INDEXING__CLIENT__CLIENT_SECRET"] == (
        embedded.client_secret
    )


def test_the_stacks_values_win_over_the_callers_and_pex_variables_are_dropped(
    embedded: StackConfig,
) -> None:
    base = {"PATH": "/usr/bin", "CONTEXTS_WEB__PORT": "1", "CONTEXTS_LOG_LEVEL": "DEBUG"}
    base["PEX_ROOT"] = "/somewhere/pex"
    env = process_environment(stack_environment(embedded), base)
    assert env["PATH"] == "/usr/bin"
    assert env["CONTEXTS_WEB__PORT"] == "8000"
    assert env["CONTEXTS_LOG_LEVEL"] == "DEBUG"
    assert "PEX_ROOT" not in env


def test_the_banner_shows_how_to_get_a_token_and_try_both_services(
    on_servers: StackConfig,
) -> None:
    text = banner(on_servers, created=["contexts"])
    assert "s3cret" not in text
    assert on_servers.client_secret not in text
    assert "postgresql://app:***@db.internal:5433/postgres" in text
    assert "(created: contexts)" in text
    assert user_token_command(on_servers) in text
    assert "curl -X PUT http://127.0.0.1:8000/v1/contexts/team-a/runbook" in text
    assert "curl 'http://127.0.0.1:8001/v1/search?q=rollback'" in text
    body = re.search(r"-d '(\{.*?\})'", user_token_command(on_servers))
    assert body is not None
    assert json.loads(body.group(1))["audience"] == ["contexts", "search"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_port_in_use_is_one_line_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = ["--contexts-port", str(port), "--state-dir", str(tmp_path / "s")]
        argv += ["--authz-port", str(free_port()), "--search-port", str(free_port())]
        with pytest.raises(SystemExit) as exited:
            main(argv, {})
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"stack: error: 127.0.0.1:{port} is in use: stop what listens there or pass --contexts-port"
    )
    assert not (tmp_path / "s").exists()
