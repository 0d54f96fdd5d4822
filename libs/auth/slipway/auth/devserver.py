"""A development OAuth 2.0 authorization server: discovery, JWKS with key rotation, tokens.

For local stacks and tests only (it refuses to start in production). It serves

- `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`):
  issuer, token_endpoint, jwks_uri, grant_types_supported, ... (valid for authlib's
  `OpenIDProviderMetadata.validate()`);
- `GET /jwks`: the current signing key, the next one (published before it signs anything,
  so verifiers already hold it when it becomes current) and previous ones for `grace_seconds`;
- `POST /token`: `grant_type=client_credentials` for registered clients (client_secret_basic
  or client_secret_post), scopes limited to the client's, audience from `resource` or
  `audience` or the client's default; RS256 JWT access tokens (RFC 9068) with `kid`; OAuth
  error JSON (RFC 6749 5.2) for a bad client (401), grant, scope or request (400);
- `POST /dev/token` (JSON `{"sub", "groups", "scopes", "audience", "expires_in", "claims"}`):
  a USER token, so a local stack needs no other identity provider;
- `POST /dev/rotate`: make the next key current (what `rotate()` does).
"""

import argparse
import asyncio
import hmac
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from authlib.common.urls import url_decode  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slipway.auth.signing import SigningKey, generate_signing_key, jwks_document, mint_token

DEFAULT_AUDIENCE = "slipway"
MAX_TOKEN_LIFETIME_SECONDS = 86_400.0
PRODUCTION = "production"


@dataclass(frozen=True)
class DevClient:
    """A registered client: its secret, the scopes it may get, its default audience."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: frozenset[str] = frozenset()
    audience: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "DevClient":
        """`id:secret:scope,scope[@audience]`; scopes may contain ':' (`contexts:read`)."""
        head, _, audience = spec.partition("@")
        parts = head.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"--client {spec!r}: expected id:secret[:scope,scope][@audience]")
        scopes = frozenset(s for s in (parts[2] if len(parts) == 3 else "").split(",") if s)
        return cls(parts[0], parts[1], scopes, audience or None)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> "DevClient":
        """`{"client_id", "client_secret", "scopes": [...], "audience"}`."""
        scopes = item.get("scopes", [])
        if isinstance(scopes, str):
            scopes = scopes.split()
        return cls(
            str(item["client_id"]),
            str(item["client_secret"]),
            frozenset(str(s) for s in scopes),
            item.get("audience"),
        )


class DevAuthorizationServer:
    """The server's state (keys, clients) and its Starlette app (`app`)."""

    def __init__(
        self,
        clients: Iterable[DevClient] = (),
        *,
        issuer: str = "",
        audience: str = DEFAULT_AUDIENCE,
        token_lifetime_seconds: float = 300.0,
        grace_seconds: float = 900.0,
        environment: str = "development",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if environment == PRODUCTION:
            raise RuntimeError("the development authorization server refuses to run in production")
        self.issuer = issuer
        self.audience = audience
        self.token_lifetime_seconds = token_lifetime_seconds
        self.grace_seconds = grace_seconds
        self._clock = clock
        self.clients = {client.client_id: client for client in clients}
        self.current = generate_signing_key("RS256", kid=_kid())
        self.next = generate_signing_key("RS256", kid=_kid())
        self.previous: list[tuple[SigningKey, float]] = []  # (key, retired at)
        self._lock = threading.Lock()
        self.token_requests = 0
        self.status = 200  # e.g. 503: play an authorization server that is down
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._metadata, methods=["GET"]),
                Route("/.well-known/oauth-authorization-server", self._metadata, methods=["GET"]),
                Route("/jwks", self._jwks, methods=["GET"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/dev/token", self._dev_token, methods=["POST"]),
                Route("/dev/rotate", self._rotate, methods=["POST"]),
            ]
        )

    # -- keys -------------------------------------------------------------------------------

    def rotate(self) -> SigningKey:
        """Make the (already published) next key current; the old one stays in the JWKS for
        `grace_seconds`, so tokens it signed keep verifying. Returns the new current key."""
        with self._lock:
            self.previous.append((self.current, self._clock()))
            self.current, self.next = self.next, generate_signing_key("RS256", kid=_kid())
            return self.current

    def jwks(self) -> dict[str, Any]:
        """The published key set: current, next, and previous keys still within the grace."""
        now = self._clock()
        with self._lock:
            self.previous = [(k, t) for k, t in self.previous if now - t < self.grace_seconds]
            keys = [self.current, self.next, *(key for key, _ in self.previous)]
        return jwks_document(*keys)

    def metadata(self) -> dict[str, Any]:
        """The provider metadata document (OIDC Discovery 1.0 / RFC 8414)."""
        base = self.issuer.rstrip("/")
        return {
            "issuer": self.issuer,
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted({s for c in self.clients.values() for s in c.scopes}),
        }

    # -- tokens -----------------------------------------------------------------------------

    def issue(
        self,
        subject: str,
        *,
        audience: str | list[str],
        scopes: Iterable[str] = (),
        client_id: str | None = None,
        expires_in: float | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A token signed with the current key (`typ: at+jwt`, RFC 9068)."""
        with self._lock:
            key = self.current
        return mint_token(
            key,
            issuer=self.issuer,
            audience=audience,
            subject=subject,
            scopes=sorted(scopes),
            client_id=client_id,
            expires_in=self.token_lifetime_seconds if expires_in is None else expires_in,
            claims=claims,
            headers={"typ": "at+jwt"},
        )

    def client_credentials(
        self, client_id: str, secret: str, scope: str | None, audience: str | None
    ) -> dict[str, Any]:
        """The token response for a client credentials request; raises authlib's errors."""
        client = self.clients.get(client_id)
        if client is None or not _same(client.client_secret, secret):
            raise InvalidClientError(description="unknown client or wrong secret", status_code=401)
        asked = frozenset((scope or "").split()) or client.scopes
        if not asked <= client.scopes:
            raise InvalidScopeError(
                description=f"not allowed: {' '.join(sorted(asked - client.scopes))}"
            )
        token = self.issue(
            client_id,
            audience=audience or client.audience or self.audience,
            scopes=asked,
            client_id=client_id,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.token_lifetime_seconds),
            "scope": " ".join(sorted(asked)),
        }

    # -- HTTP -------------------------------------------------------------------------------

    async def _metadata(self, _: Request) -> Response:
        if self.status != 200:
            return _down(self.status)
        return JSONResponse(self.metadata())

    async def _jwks(self, _: Request) -> Response:
        if self.status != 200:
            return _down(self.status)
        return JSONResponse(self.jwks(), headers={"Cache-Control": "no-store"})

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.status != 200:
            return _down(self.status)
        try:
            fields = await _form(request)
            basic_id, basic_secret = extract_basic_authorization(request.headers)
            if basic_id is not None:
                client_id, secret = basic_id, basic_secret or ""
            elif "client_id" in fields:
                client_id, secret = fields["client_id"], fields.get("client_secret", "")
            else:
                raise InvalidClientError(description="no client authentication", status_code=401)
            grant_type = fields.get("grant_type")
            if not grant_type:
                raise InvalidRequestError(description="missing grant_type")
            if grant_type != "client_credentials":
                raise UnsupportedGrantTypeError(_ascii(grant_type))
            body = self.client_credentials(
                client_id,
                secret,
                fields.get("scope"),
                fields.get("resource") or fields.get("audience"),
            )
        except OAuth2Error as error:
            return _oauth_error(error)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def _dev_token(self, request: Request) -> Response:
        try:
            payload = json.loads(await request.body() or b"{}")
            if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str):
                raise ValueError('a JSON object with "sub" is required')
            expires_in = float(payload.get("expires_in", self.token_lifetime_seconds))
            if not 0 < expires_in <= MAX_TOKEN_LIFETIME_SECONDS:
                raise ValueError("expires_in must be within (0, 86400]")
            claims = dict(payload.get("claims") or {})
            if "groups" in payload:
                claims["groups"] = list(payload["groups"])
            token = self.issue(
                payload["sub"],
                audience=payload.get("audience") or self.audience,
                scopes=[str(s) for s in payload.get("scopes", [])],
                expires_in=expires_in,
                claims=claims,
            )
        except (ValueError, TypeError) as exc:
            return _oauth_error(InvalidRequestError(description=_ascii(str(exc))))
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(expires_in)}
        )

    async def _rotate(self, _: Request) -> Response:
        key = self.rotate()
        return JSONResponse({"current_kid": key.kid, "next_kid": self.next.kid})


async def _form(request: Request) -> dict[str, str]:
    """The application/x-www-form-urlencoded body (RFC 6749 3.2), decoded by authlib."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError(description="the body must be application/x-www-form-urlencoded")
    try:
        pairs = url_decode((await request.body()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError(description="the body is not a valid form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:  # RFC 6749 3.2: parameters must not be included more than once
            raise InvalidRequestError(description=f"repeated parameter {name}")
        fields[name] = value
    return fields


def _kid() -> str:
    return f"dev-{uuid.uuid4().hex[:12]}"


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _ascii(text: str) -> str:
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def _oauth_error(error: Any) -> Response:
    body = dict(error.get_body())
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    headers["Cache-Control"] = "no-store"
    return JSONResponse(body, status_code=int(error.status_code), headers=headers)


def _down(status: int) -> Response:
    return JSONResponse({"error": "temporarily_unavailable"}, status_code=status)


@contextmanager
def serve_authorization_server(
    clients: Iterable[DevClient] = (),
    *,
    timeout_seconds: float = 10.0,
    server_class: type[DevAuthorizationServer] = DevAuthorizationServer,
    **options: Any,
) -> Iterator[DevAuthorizationServer]:
    """Serve a development authorization server with uvicorn, in a thread, on a free
    127.0.0.1 port; its `issuer` is `http://127.0.0.1:<port>`. `options` are
    `DevAuthorizationServer`'s (`audience`, `token_lifetime_seconds`, `grace_seconds`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = server_class(clients, issuer=f"http://127.0.0.1:{port}", **options)
    config = uvicorn.Config(
        server.app, lifespan="off", log_level="warning", access_log=False, ws="none"
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(
        target=asyncio.run, args=(runner.serve(sockets=[sock]),), name="dev-auth", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while not runner.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the development authorization server did not start")
            time.sleep(0.005)
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout_seconds)
        sock.close()


# -- command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authorization-server",
        description="Development OAuth 2.0 authorization server (never for production).",
        epilog="example: --port 9400 "
        "--client search:secret:contexts:read,contexts:index@contexts-api",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--issuer", help="issuer URL (default http://<host>:<port>)")
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID:SECRET[:SCOPES][@AUDIENCE]",
        help="register a client; SCOPES comma-separated (repeatable)",
    )
    parser.add_argument(
        "--clients-file",
        type=Path,
        help='JSON list of {"client_id", "client_secret", "scopes", "audience"}',
    )
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE, help="default token audience")
    parser.add_argument("--token-lifetime", type=float, default=300.0, metavar="SECONDS")
    parser.add_argument(
        "--grace",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="how long a rotated-out key stays published",
    )
    parser.add_argument(
        "--environment",
        default=os.environ.get("SLIPWAY_ENVIRONMENT", "development"),
        help="refuses 'production' (default: $SLIPWAY_ENVIRONMENT or development)",
    )
    return parser


def build_server(argv: Sequence[str]) -> tuple[DevAuthorizationServer, str, int]:
    """The server a command line describes; `SystemExit(2)` with one message if it is bad."""
    parser = _parser()
    args = parser.parse_args(argv)
    clients: list[DevClient] = []
    try:
        clients = [DevClient.parse(spec) for spec in args.client]
        if args.clients_file is not None:
            items = json.loads(args.clients_file.read_text())
            if not isinstance(items, list):
                raise ValueError(f"{args.clients_file}: expected a JSON list of clients")
            clients += [DevClient.from_json(item) for item in items]
        if not 0 < args.port < 65536:
            raise ValueError(f"--port {args.port}: not a port")
        if args.environment == PRODUCTION:
            raise ValueError("refusing to run in production: this server is for development")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        parser.error(str(exc))
    issuer = args.issuer or f"http://{args.host}:{args.port}"
    server = DevAuthorizationServer(
        clients,
        issuer=issuer,
        audience=args.audience,
        token_lifetime_seconds=args.token_lifetime,
        grace_seconds=args.grace,
        environment=args.environment,
    )
    return server, args.host, args.port


class _ExitingCleanly(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful exit, so the process dies by the
    signal and a process runner reports a failure; this one stops the same way and exits 0."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def main(argv: Sequence[str] | None = None) -> None:
    """`authorization-server [--port 9400] --client id:secret:scopes ...`."""
    server, host, port = build_server(sys.argv[1:] if argv is None else argv)
    print(
        f"development authorization server: issuer {server.issuer}, "
        f"{len(server.clients)} client(s)",
        file=sys.stderr,
    )
    config = uvicorn.Config(server.app, host=host, port=port, log_level="info", lifespan="off")
    _ExitingCleanly(config).run()


if __name__ == "__main__":
    main()
