import io
import logging

from pydantic import BaseModel, SecretStr

from slipway.logging import REDACTED, get_logger, redact_value
from slipway.logging.redaction import redact_query
from slipway.logging.tests.conftest import LogLines


class Credentials(BaseModel):
    user: str
    api_key: SecretStr


def test_sensitive_keys_are_redacted_at_top_level(
    json_lines: LogLines, log_buffer: io.StringIO
) -> None:
    fields = {
        "authorization": "Bearer eyJhbGciOi.secret",
        "cookie": "session=abc123",
        "access_token": "tok-123",
        "password": "hunter2",
        "client_secret": "s3cr3t",
        "user": "alice",
    }
    get_logger("t").info("login", **fields)

    [line] = json_lines()
    for key in ("authorization", "cookie", "access_token", "password", "client_secret"):
        assert line[key] == REDACTED
    assert line["user"] == "alice"
    for leaked in ("eyJhbGciOi", "abc123", "tok-123", "hunter2", "s3cr3t"):
        assert leaked not in log_buffer.getvalue()


def test_nested_dicts_header_lists_and_models_are_redacted(json_lines: LogLines) -> None:
    get_logger("t").info(
        "outgoing call",
        request={"headers": {"Authorization": "Bearer abc", "Accept": "json"}, "n": 1},
        asgi_headers=[(b"cookie", b"sid=1"), (b"host", b"example.org")],
        http_headers=[("Set-Cookie", "sid=2"), ("Content-Type", "text/plain")],
        creds=Credentials(user="bob", api_key=SecretStr("k-123")),
        key=SecretStr("raw-secret"),
    )

    [line] = json_lines()
    assert line["request"] == {"headers": {"Authorization": REDACTED, "Accept": "json"}, "n": 1}
    assert line["asgi_headers"] == [["cookie", REDACTED], ["host", "example.org"]]
    assert line["http_headers"] == [["Set-Cookie", REDACTED], ["Content-Type", "text/plain"]]
    assert line["creds"] == {"user": "bob", "api_key": REDACTED}
    assert line["key"] == REDACTED


def test_stdlib_extra_fields_are_redacted(json_lines: LogLines) -> None:
    logging.getLogger("httpx").info("sent", extra={"headers": {"authorization": "Basic Zm9v"}})

    assert json_lines()[0]["headers"] == {"authorization": REDACTED}


def test_redact_value_copies_instead_of_mutating() -> None:
    original = {"token": "t", "inner": {"password": "p"}}

    assert redact_value(original) == {"token": REDACTED, "inner": {"password": REDACTED}}
    assert original == {"token": "t", "inner": {"password": "p"}}


def test_query_string_credentials_are_masked() -> None:
    assert redact_query("/cb?code=1&access_token=abc&page=2") == (
        f"/cb?code=1&access_token={REDACTED}&page=2"
    )
    assert redact_query("/plain/path") == "/plain/path"
