"""The stack's command line: defaults, the SLIPWAY_STACK_* variables, one-screen errors."""

from pathlib import Path

import pytest

from slipway_stack.config import (
    DEFAULT_AUTHZ_PORT,
    DEFAULT_CONTEXTS_PORT,
    DEFAULT_SEARCH_PORT,
    POSTGRES_ENV,
    REDIS_ENV,
    STATE_DIR_ENV,
    StackConfig,
    parse_config,
    redact,
)

MAX_ERROR_LINES = 25


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> str:
    """The error `argv` gets: exit status 2, a short message; its text."""
    with pytest.raises(SystemExit) as exited:
        parse_config(argv, env)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: stack"), err
    assert len(err.splitlines()) <= MAX_ERROR_LINES, err
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_defaults_are_the_embedded_stack_on_the_documented_ports() -> None:
    config = parse_config([], {})
    assert (
        (config.authz_port, config.contexts_port, config.search_port)
        == (
            DEFAULT_AUTHZ_PORT,
            DEFAULT_CONTEXTS_PORT,
            DEFAULT_SEARCH_PORT,
        )
        == (9400, 8000, 8001)
    )
    assert config.postgres_url is None
    assert config.redis_url is None
    assert config.state_dir == Path(".stack")
    assert config.authz_url == "http://127.0.0.1:9400"
    assert config.contexts_url == "http://127.0.0.1:8000"
    assert config.search_url == "http://127.0.0.1:8001"


def test_flags_set_servers_ports_and_state_dir(tmp_path: Path) -> None:
    config = parse_config(
        [
            "--postgres",
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "--redis",
            "redis://127.0.0.1:6379/1",
            "--authz-port",
            "9500",
            "--contexts-port",
            "8100",
            "--search-port",
            "8101",
            "--state-dir",
            str(tmp_path),
            "--contexts-database",
            "ctx",
            "--search-database",
            "idx",
        ],
        {},
    )
    assert config.postgres_url == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert config.redis_url == "redis://127.0.0.1:6379/1"
    assert (config.authz_port, config.contexts_port, config.search_port) == (9500, 8100, 8101)
    assert config.state_dir == tmp_path
    assert (config.contexts_database, config.search_database) == ("ctx", "idx")


def test_environment_variables_stand_in_for_the_flags(tmp_path: Path) -> None:
    env = {
        POSTGRES_ENV: "postgresql://app@db:5432/app",
        REDIS_ENV: "rediss://cache:6380/0",
        STATE_DIR_ENV: str(tmp_path / "state"),
    }
    config = parse_config([], env)
    assert config.postgres_url == "postgresql://app@db:5432/app"
    assert config.redis_url == "rediss://cache:6380/0"
    assert config.state_dir == tmp_path / "state"
    # A flag wins over its variable.
    flagged = parse_config(["--redis", "redis://other:6379/0"], env)
    assert flagged.redis_url == "redis://other:6379/0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--contexts-port", "70000"], "70000 is not a port"),
        (["--search-port", "http"], "'http' is not a port number"),
        (["--postgres", "mysql://root@db/app"], "is not a postgresql:// or postgres://HOST URL"),
        (["--redis", "127.0.0.1:6379"], "is not a redis:// or rediss://HOST URL"),
        (["--redis", "redis://127.0.0.1:notaport/0"], "has a bad port"),
        (["--search-port", "8000"], "the three ports must differ"),
        (["--contexts-database", "Contexts;drop"], "is not a database name"),
        (
            [
                "--postgres",
                "postgresql://h/x",
                "--contexts-database",
                "a",
                "--search-database",
                "a",
            ],
            "must differ",
        ),
        (["--token-lifetime", "5"], "between 10 and 86400 seconds"),
        (["--redis-prefix", "a b"], "letters, digits and :._- only"),
        (["--host", "http://x"], "is not a host name"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_bad_flag_is_one_short_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    last = refused(capsys, argv, {})
    assert last.startswith("stack: error: "), last
    assert message in last, last


def test_a_bad_environment_variable_is_refused_the_same_way(
    capsys: pytest.CaptureFixture[str],
) -> None:
    last = refused(capsys, [], {POSTGRES_ENV: "sqlite:///x.db"})
    assert "is not a postgresql://" in last


def test_a_password_never_shows_in_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    last = refused(capsys, ["--postgres", "mysql://root:hunter2@db/app"], {})
    assert "hunter2" not in last
    assert "root:***@db" in last


def test_a_state_dir_that_is_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "file"
    file.write_text("")
    assert "not a directory" in refused(capsys, ["--state-dir", str(file)], {})


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:p4ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"


def test_each_run_has_its_own_client_secret_and_repr_hides_it() -> None:
    first, second = StackConfig(), StackConfig()
    assert first.client_secret != second.client_secret
    assert len(first.client_secret) >= 32
    assert first.client_secret not in repr(first)
