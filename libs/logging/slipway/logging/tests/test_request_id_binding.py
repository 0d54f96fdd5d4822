"""Request ids from batched random bytes, and binding straight to structlog's variable."""

import os
import re

import pytest
import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, merge_contextvars

from slipway.logging import current_request_id
from slipway.logging import request_id as request_ids
from slipway.logging.request_id import bind_request_id, new_request_id, unbind_request_id

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_generated_ids_are_32_hex_characters_and_unique_across_batches() -> None:
    ids = [new_request_id() for _ in range(5 * request_ids._ID_BATCH + 3)]

    assert all(GENERATED.fullmatch(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_uses_the_ids_its_parent_has_read() -> None:
    new_request_id()  # the parent now holds the rest of a batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, new_request_id().encode("ascii"))
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode("ascii")
    os.close(read)
    os.waitpid(pid, 0)
    parents = [new_request_id() for _ in range(request_ids._ID_BATCH)]

    assert GENERATED.fullmatch(child_id)
    assert child_id not in parents


def test_binding_sets_and_restores_both_variables_as_bind_contextvars_did() -> None:
    outer = bind_request_id("outer")
    inner = bind_request_id("inner")
    assert current_request_id() == "inner"
    assert get_contextvars() == {"request_id": "inner"}
    assert merge_contextvars(None, "info", {})["request_id"] == "inner"

    unbind_request_id(inner)
    assert (current_request_id(), get_contextvars()) == ("outer", {"request_id": "outer"})
    unbind_request_id(outer)
    assert (current_request_id(), get_contextvars()) == (None, {})


def test_structlog_calls_and_request_id_binding_share_one_variable() -> None:
    binding = bind_request_id("ours")
    bind_contextvars(request_id="theirs")  # structlog's own call sees and replaces it
    assert get_contextvars() == {"request_id": "theirs"}
    assert current_request_id() == "ours"
    structlog.contextvars.clear_contextvars()

    unbind_request_id(binding)  # back to before the binding, as reset_contextvars did
    assert (current_request_id(), get_contextvars()) == (None, {})


def test_the_first_binding_creates_structlogs_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = structlog.contextvars._CONTEXT_VARS
    monkeypatch.delitem(variables, "structlog_request_id", raising=False)

    binding = bind_request_id("first")
    assert "structlog_request_id" in variables
    assert get_contextvars() == {"request_id": "first"}
    unbind_request_id(binding)
    assert get_contextvars() == {}
