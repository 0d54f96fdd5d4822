"""The per-request fast paths give what the plain formulas they replace give.

`header_bytes` sums in C, `SecurityHeaders` finds docs pages with one set lookup and one
`startswith`, and the header merges add every default at once when the app set none of them:
each is checked here against the straightforward version, on the cases that tell them apart.
"""

from collections.abc import Iterable, Iterator, Sequence

import pytest

from slipway.web.limits import header_bytes
from slipway.web.platform_layer import _response_headers
from slipway.web.ratelimit.middleware import RATE_LIMIT_HEADER_NAMES
from slipway.web.security import SecurityHeaders, with_default_headers

Headers = list[tuple[bytes, bytes]]


def _plain_merge(headers: Headers, defaults: Iterable[tuple[bytes, bytes]]) -> Headers:
    """`with_default_headers` as it was: a membership test per default."""
    out = list(headers)
    present = {name.lower() for name, _ in out}
    out.extend(header for header in defaults if header[0] not in present)
    return out


HEADER_BLOCKS: list[Headers] = [
    [],
    [(b"host", b"x")],
    [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
    [(b"", b""), (b"x-long", b"v" * 5000)],
]


@pytest.mark.parametrize("headers", HEADER_BLOCKS)
def test_header_bytes_is_name_value_and_four_per_field(headers: Headers) -> None:
    expected = sum(len(name) + len(value) + 4 for name, value in headers)

    def generated() -> Iterator[tuple[bytes, bytes]]:
        yield from headers

    assert header_bytes(headers) == expected
    assert header_bytes(tuple(headers)) == expected
    assert header_bytes(generated()) == expected  # any iterable, as ASGI allows


PATHS = ["", "/", "/docs", "/docs/", "/docs/oauth2-redirect", "/docsx", "/doc", "/redoc",
         "/redoc/x", "/redocs", "/v1/docs", "/items/42"]  # fmt: skip


@pytest.mark.parametrize("docs_paths", [("/docs", "/redoc"), (), ("/docs", ""), ("/a/b",)])
@pytest.mark.parametrize("path", [*PATHS, "/a/b", "/a/b/c", "/a/bc"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_security_headers_choose_the_variant_as_the_plain_test_does(
    docs_paths: Sequence[str], path: str, scheme: str
) -> None:
    security = SecurityHeaders(docs_paths=docs_paths)
    kept = [p for p in docs_paths if p]
    docs = any(path == p or path.startswith(p + "/") for p in kept)
    expected = security._defaults[(docs, scheme == "https")]
    assert security.for_request({"path": path, "scheme": scheme}) == expected


@pytest.mark.parametrize("forwarded", [None, b"https", b"http", b"HTTPS, http", b" https "])
@pytest.mark.parametrize("trusted", [False, True])
def test_security_headers_over_forwarded_proto_as_before(
    forwarded: bytes | None, trusted: bool
) -> None:
    security = SecurityHeaders(trust_forwarded_proto=trusted)
    headers = [(b"x-forwarded-proto", forwarded)] if forwarded is not None else []
    https = (
        trusted and forwarded is not None and forwarded.split(b",")[0].strip().lower() == b"https"
    )
    expected = security._defaults[(False, https)]
    assert security.for_request({"path": "/", "scheme": "http", "headers": headers}) == expected


APP_HEADERS: list[Headers] = [
    [],
    [(b"content-length", b"2"), (b"content-type", b"application/json")],
    [(b"X-Frame-Options", b"SAMEORIGIN"), (b"content-length", b"2")],
    [(b"ratelimit-remaining", b"7"), (b"Content-Security-Policy", b"default-src 'self'")],
    [(b"X-Request-ID", b"the-apps"), (b"x-request-id", b"again"), (b"vary", b"origin")],
    [(b"strict-transport-security", b"max-age=1"), (b"RateLimit-Limit", b"9")],
]


@pytest.mark.parametrize("headers", APP_HEADERS)
@pytest.mark.parametrize("https", [False, True])
def test_security_defaults_merge_as_with_default_headers(headers: Headers, https: bool) -> None:
    security = SecurityHeaders()
    defaults = security._defaults[(False, https)]
    assert with_default_headers(headers, defaults, security.names) == _plain_merge(
        headers, defaults
    )


RATE_LIMIT_HEADERS = (
    (b"ratelimit-limit", b"10"),
    (b"ratelimit-remaining", b"9"),
    (b"ratelimit-reset", b"1"),
)


@pytest.mark.parametrize("headers", APP_HEADERS)
def test_rate_limit_headers_merge_as_with_default_headers(headers: Headers) -> None:
    merged = with_default_headers(headers, RATE_LIMIT_HEADERS, RATE_LIMIT_HEADER_NAMES)
    assert merged == _plain_merge(headers, RATE_LIMIT_HEADERS)


def _plain_response_headers(
    headers: Iterable[tuple[bytes, bytes]],
    defaults: Iterable[tuple[bytes, bytes]],
    request_id: tuple[bytes, bytes] | None,
    trailing: Iterable[tuple[bytes, bytes]],
) -> Headers:
    """The platform layer's header pass as it was: one loop, a test per default."""
    request_id_key = request_id[0] if request_id is not None else None
    out: Headers = []
    present: set[bytes] = set()
    for header in headers:
        name = header[0].lower()
        present.add(name)
        if name != request_id_key:
            out.append(header)
    out.extend(header for header in defaults if header[0] not in present)
    if request_id is not None:
        out.append(request_id)
    out.extend(trailing)
    return out


@pytest.mark.parametrize("headers", APP_HEADERS)
@pytest.mark.parametrize("request_id", [None, (b"x-request-id", b"ours")])
@pytest.mark.parametrize("secured", [False, True])
@pytest.mark.parametrize("admitted", [(), RATE_LIMIT_HEADERS], ids=["no-guard", "rate-limited"])
def test_the_platform_header_pass_is_the_plain_one(
    headers: Headers,
    request_id: tuple[bytes, bytes] | None,
    secured: bool,
    admitted: tuple[tuple[bytes, bytes], ...],
) -> None:
    security = SecurityHeaders()
    defaults = security._defaults[(False, True)] if secured else ()
    names = security.names if secured else frozenset()
    trailing = ((b"traceresponse", b"00-abc-def-01"),)
    app_headers = list(headers)
    fast = _response_headers(app_headers, admitted, defaults, names, request_id, trailing)
    # The fused guard's merge first (the next layer inside), then the platform layer's pass.
    guarded = _plain_merge(headers, admitted)
    assert fast == _plain_response_headers(guarded, defaults, request_id, trailing)
    assert app_headers == headers  # the app's own list is left as it was
