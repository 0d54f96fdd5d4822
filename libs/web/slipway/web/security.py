"""Security headers on every response, and CORS from settings."""

from collections.abc import Iterable, Sequence, Set
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.settings import WebSettings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc pages load their bundles from jsDelivr and run an inline script.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def _encoded_headers(csp: str, hsts: str | None) -> tuple[tuple[bytes, bytes], ...]:
    headers = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", csp),
        ("cross-origin-opener-policy", "same-origin"),
    ]
    if hsts is not None:
        headers.append(("strict-transport-security", hsts))
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)


class SecurityHeaders:
    """The security headers a response gets, pre-encoded per (docs page, https) variant."""

    def __init__(
        self,
        *,
        docs_paths: Iterable[str] = ("/docs", "/redoc"),
        trust_forwarded_proto: bool = False,
        hsts_max_age_seconds: int = 31_536_000,
    ) -> None:
        self.docs_paths = tuple(path for path in docs_paths if path)
        # A docs page is a docs path or under one: one set lookup and one startswith.
        self._docs_exact = frozenset(self.docs_paths)
        self._docs_prefixes = tuple(path + "/" for path in self.docs_paths)
        self.trust_forwarded_proto = trust_forwarded_proto
        self.hsts = f"max-age={hsts_max_age_seconds}; includeSubDomains"
        # Encoded once: (is docs page, is https) -> the headers to add when missing.
        self._defaults = {
            (docs, https): _encoded_headers(
                DOCS_CSP if docs else API_CSP, self.hsts if https else None
            )
            for docs in (False, True)
            for https in (False, True)
        }
        self.names = frozenset(name for headers in self._defaults.values() for name, _ in headers)
        """Every header name any variant adds: a response with none of them gets them all."""

    def _is_https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not self.trust_forwarded_proto:
            return False
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-proto":
                first: bytes = value.split(b",")[0]
                return first.strip().lower() == b"https"
        return False

    def for_request(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        """The (lowercase, encoded) headers the response to `scope` gets unless it has them."""
        # The docs and plain-http tests inline: this runs on every request.
        path = scope.get("path", "")
        docs = path in self._docs_exact or path.startswith(self._docs_prefixes)
        https = scope.get("scheme") == "https" or (
            self.trust_forwarded_proto and self._is_https(scope)
        )
        return self._defaults[(docs, https)]


class SecurityHeadersMiddleware:
    """Adds nosniff, frame denial, referrer policy, CSP and (over https) HSTS headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Iterable[str] = ("/docs", "/redoc"),
        trust_forwarded_proto: bool = False,
        hsts_max_age_seconds: int = 31_536_000,
    ) -> None:
        self.app = app
        self.headers = SecurityHeaders(
            docs_paths=docs_paths,
            trust_forwarded_proto=trust_forwarded_proto,
            hsts_max_age_seconds=hsts_max_age_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start message, without overriding the app's."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults, names = self.headers.for_request(scope), self.headers.names

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_default_headers(
                    message.get("headers", ()), defaults, names
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_absent(
    out: list[tuple[bytes, bytes]],
    present: Set[bytes],
    defaults: Iterable[tuple[bytes, bytes]],
    names: frozenset[bytes],
) -> None:
    """Append to `out` each of `defaults` whose name is not in `present` (lowercase names).

    `names` holds every name `defaults` may have: when `present` has none of them, as it
    mostly has, all the defaults are added without a membership test per header.
    """
    if present.isdisjoint(names):
        out.extend(defaults)
    else:
        out.extend(header for header in defaults if header[0] not in present)


def with_default_headers(
    headers: Iterable[tuple[bytes, bytes]],
    defaults: Iterable[tuple[bytes, bytes]],
    names: frozenset[bytes],
) -> list[tuple[bytes, bytes]]:
    """`headers` plus each of `defaults` whose (lowercase) name is not already there
    (`names`: every name `defaults` may have, see `add_absent`)."""
    out = list(headers)
    add_absent(out, {name.lower() for name, _ in out}, defaults, names)
    return out


def cors_options(web: WebSettings, expose_headers: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for Starlette's (pure ASGI) CORSMiddleware, from the settings."""
    return {
        "allow_origins": web.cors_origins,
        "allow_methods": web.cors_methods,
        "allow_headers": web.cors_headers,
        "allow_credentials": web.cors_allow_credentials,
        "expose_headers": list(expose_headers),
    }
