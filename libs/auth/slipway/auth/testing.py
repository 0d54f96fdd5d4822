"""Keys, tokens and a real JWKS server on loopback, for services' own tests."""

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.types import Receive, Scope, Send

JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class SigningKey:
    """A private key to sign test tokens with, and the public JWK an issuer would publish."""

    kid: str
    algorithm: str
    private_key: Any = field(repr=False)
    public_jwk: dict[str, Any] = field(default_factory=dict)


def generate_signing_key(
    algorithm: Literal["RS256", "ES256"] = "RS256", *, kid: str | None = None
) -> SigningKey:
    """A fresh RSA-2048 (RS256) or P-256 (ES256) key pair with its public JWK."""
    kid = kid or f"test-{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
    if algorithm == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk = {**public, "kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(kid=kid, algorithm=algorithm, private_key=private, public_jwk=jwk)


def hs256_signing_key(secret: str) -> SigningKey:
    """A shared-secret key for development/test HS256 tokens (no kid, nothing published)."""
    return SigningKey(kid="", algorithm="HS256", private_key=secret.encode())


def jwks_document(*keys: SigningKey) -> dict[str, Any]:
    """The JWK set publishing the public half of `keys` (shared-secret keys are left out)."""
    return {"keys": [dict(key.public_jwk) for key in keys if key.public_jwk]}


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str | list[str],
    subject: str = "user-1",
    scopes: Iterable[str] = (),
    client_id: str | None = None,
    expires_in: float = 300,
    not_before: float | None = None,
    issued_at: float | None = None,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A signed JWT; `claims` and `headers` add or override members (None drops one)."""
    now = time.time()
    issued = now if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued),
        "exp": int(issued + expires_in),
        "jti": uuid.uuid4().hex,
    }
    if scopes:
        payload["scope"] = " ".join(scopes)
    if client_id is not None:
        payload["client_id"] = client_id
    if not_before is not None:
        payload["nbf"] = int(not_before)
    payload.update(claims or {})
    header: dict[str, Any] = {"kid": key.kid} if key.kid else {}
    header.update(headers or {})
    payload = {name: value for name, value in payload.items() if value is not None}
    header = {name: value for name, value in header.items() if value is not None}
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers=header)


class JwksServer:
    """An issuer's JWKS endpoint over real HTTP on 127.0.0.1; change `document` or `status`."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document: Mapping[str, Any] = document
        self.status = 200  # e.g. 503 to play an issuer that is down
        self.requests = 0
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve `document` at JWKS_PATH, 404 elsewhere."""
        if scope["type"] != "http":
            return
        self.requests += 1
        status = self.status if scope["path"] == JWKS_PATH else 404
        body = json.dumps(self.document).encode() if status == 200 else b"{}"
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_jwks(
    document: Mapping[str, Any], *, timeout_seconds: float = 10.0
) -> Iterator[JwksServer]:
    """Serve `document` with uvicorn, in a thread, on a free 127.0.0.1 port (sets `url`).

    A thread of its own lets a session-scoped fixture share one server across tests and
    event loops; use it from sync or async code alike.
    """
    jwks = JwksServer(document)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(jwks, lifespan="off", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=asyncio.run, args=(server.serve(sockets=[sock]),), name="jwks-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the JWKS server did not start")
            time.sleep(0.005)
        jwks.url = f"http://127.0.0.1:{port}{JWKS_PATH}"
        yield jwks
    finally:
        server.should_exit = True
        thread.join(timeout_seconds)
        sock.close()
