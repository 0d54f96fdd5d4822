"""The exceptions a ResilientClient raises: every one is an UpstreamError."""

import httpx


class UpstreamError(Exception):
    """A call to an upstream service failed; `host` names the upstream (host[:port])."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


# The names issue #4 gives these two read better without an Error suffix.
class UpstreamTimeout(UpstreamError):  # noqa: N818
    """The total timeout, or a read/write/pool timeout on the last try, ran out."""


class UpstreamUnavailable(UpstreamError):  # noqa: N818
    """No response: connection refused, reset or dropped, on the last try."""


class CircuitOpenError(UpstreamError):
    """Fast-fail: the host's circuit is open; `retry_after` is seconds until it probes again."""

    def __init__(self, *, host: str, retry_after: float) -> None:
        super().__init__(f"circuit open for {host}; retry in {retry_after:.3f}s", host=host)
        self.retry_after = retry_after


class UpstreamStatusError(UpstreamError):
    """The final response had a status >= 400 (raised only with `raise_for_status`)."""

    def __init__(self, response: httpx.Response, *, host: str) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url} answered {response.status_code}", host=host
        )
        self.response = response
        self.status = response.status_code
