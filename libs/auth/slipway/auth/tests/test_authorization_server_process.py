"""The development authorization server as a real process: a service gets its token through
a ResilientClient, a verifier discovers the keys, and when the process dies the cached token
keeps working until it expires (issue 14, item 7)."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.auth import (
    AuthSettings,
    ClientCredentialsSettings,
    ClientCredentialsTokenSource,
    TokenUnavailableError,
    build_authenticator,
)
from slipway.config import Environment
from slipway.http import HttpClientSettings, ResilientClient
from slipway.http.settings import BreakerSettings, RetrySettings

pytestmark = pytest.mark.integration

AUDIENCE = "contexts-api"
LIFETIME = 4  # seconds: long enough to use, short enough to watch expire


@dataclass
class Process:
    popen: "subprocess.Popen[bytes]"
    issuer: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def authorization_server() -> Iterator[Process]:
    """`python -m slipway.auth.devserver` on a free port, ready when this yields."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slipway.auth.devserver",
            "--port",
            str(port),
            "--token-lifetime",
            str(LIFETIME),
            "--client",
            f"search:s3cret:contexts:read,contexts:index@{AUDIENCE}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            _, err = popen.communicate()
            raise RuntimeError(f"the authorization server did not start: {err.decode()}")
        time.sleep(0.1)
    yield Process(popen, issuer)
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        popen.wait(10)


async def test_a_dead_authorization_server_leaves_cached_tokens_working(
    authorization_server: Process, registry: CollectorRegistry
) -> None:
    issuer = authorization_server.issuer
    http_settings = HttpClientSettings(
        total_timeout=2.0,
        retry=RetrySettings(attempts=2, backoff_base=0.01, backoff_max=0.01),
        breaker=BreakerSettings(failure_threshold=100),
    )
    settings = ClientCredentialsSettings(
        issuer=issuer,
        client_id="search",
        client_secret=SecretStr("s3cret"),
        scope=("contexts:read",),
        refresh_margin_seconds=LIFETIME - 1,  # try a refresh after one second
        retry_after_failure_seconds=0.2,
    )
    verifier = build_authenticator(
        AuthSettings(issuer=issuer, audience=AUDIENCE, discovery=True, algorithms=("RS256",)),
        environment=Environment.TEST,
        registry=registry,
    )
    async with ResilientClient(http_settings, registry=CollectorRegistry()) as server:
        tokens = ClientCredentialsTokenSource(settings, server)
        await verifier.start()
        try:
            token = await tokens.token()
            expires_at = tokens.expires_at
            assert expires_at is not None
            assert (await verifier.authenticate(token)).subject == "search"

            authorization_server.popen.kill()  # the authorization server is gone
            authorization_server.popen.wait(10)
            await asyncio.sleep(1.2)  # within the refresh margin: a refresh is attempted
            assert await tokens.token() == token  # ...fails, and the cached token is used
            assert (await verifier.authenticate(token)).subject == "search"  # keys are held
            await verifier()  # and the verifier stays ready

            await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.3)
            # expired, and no server to get another from (the endpoint is being discovered
            # again: after a connection failure it may have moved)
            with pytest.raises(TokenUnavailableError, match="ConnectError"):
                await tokens.token()
        finally:
            await verifier.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_authorization_server_exits_0(authorization_server: Process, sig: int) -> None:
    """A process runner (honcho, Kubernetes) reads death by a signal as a failure."""
    authorization_server.popen.send_signal(sig)
    assert authorization_server.popen.wait(10) == 0
