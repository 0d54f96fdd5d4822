"""ResilientClient: httpx.AsyncClient with timeouts, retries, a retry budget and breakers."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from prometheus_client import CollectorRegistry

from slipway.http.breaker import CircuitState, Permit
from slipway.http.errors import (
    CircuitOpenError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from slipway.http.metrics import http_client_metrics
from slipway.http.retry_policy import (
    backoff_delay,
    counts_against_upstream,
    error_retry_reason,
    is_retry_safe,
    retry_after_seconds,
    status_retry_reason,
)
from slipway.http.settings import HttpClientSettings
from slipway.http.upstreams import Upstream, Upstreams, host_of
from slipway.logging import current_request_id, get_logger
from slipway.observability import inject_trace_headers

REQUEST_ID_HEADER = "X-Request-ID"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_log = get_logger(__name__)


class ResilientClient:
    """One httpx.AsyncClient behind retries, a retry budget and a circuit breaker per host.

    It is a slipway.web Resource (`start` opens the pool, `stop` closes it) and an async
    context manager. Every request carries X-Request-ID and the W3C trace context.
    """

    def __init__(
        self,
        settings: HttpClientSettings,
        *,
        name: str = "http-client",
        registry: CollectorRegistry | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.name = name
        self._auth = auth
        self.settings = settings
        self._metrics = http_client_metrics(registry)
        self._clock = clock
        self._sleep = sleep
        # Jitter spreads retries out; it needs no cryptographic randomness.
        self._rng = rng or random.Random()  # noqa: S311
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._upstreams = Upstreams(settings, clock, self._metrics.circuit_state)

    async def start(self) -> None:
        """Open the connection pool."""
        if self._client is not None:
            return
        s = self.settings
        self._client = httpx.AsyncClient(
            base_url=s.base_url,
            timeout=httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.write_timeout,
                pool=s.pool_timeout,
            ),
            limits=httpx.Limits(
                max_connections=s.max_connections,
                max_keepalive_connections=s.max_keepalive,
                keepalive_expiry=s.keepalive_expiry,
            ),
            transport=self._transport,
            auth=self._auth,
        )

    async def stop(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def circuit_state(self, host: str) -> CircuitState:
        """The breaker state of `host` (host[:port]); closed for a host not called yet."""
        return self._upstreams.circuit_state(host)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET `url`; keyword arguments as for `request`."""
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST `url`; retried only with an Idempotency-Key header."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        """PUT `url`; keyword arguments as for `request`."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        """PATCH `url`; retried only with an Idempotency-Key header."""
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """DELETE `url`; keyword arguments as for `request`."""
        return await self.request("DELETE", url, **kwargs)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Send a request with retries, within the total timeout; raise an UpstreamError.

        `auth` (an `httpx.Auth`, e.g. `slipway.auth.BearerTokenAuth`) replaces the client's
        own for this request; it runs on every try, so a retry carries a fresh credential.
        """
        if self._client is None:
            raise RuntimeError(f"{self.name} is not started; call start() first")
        request = self._client.build_request(
            method.upper(),
            url,
            params=params,
            headers=self._outgoing_headers(headers),
            content=content,
            data=data,
            json=json,
        )
        host = host_of(request.url)
        try:
            async with asyncio.timeout(self.settings.total_timeout) as deadline:
                return await self._send(self._client, request, host, deadline, auth)
        except TimeoutError as exc:
            if deadline.expired():
                raise UpstreamTimeout(
                    f"{method} {request.url}: no answer within the total timeout of "
                    f"{self.settings.total_timeout}s",
                    host=host,
                ) from exc
            raise

    def _outgoing_headers(self, headers: Mapping[str, str] | None) -> httpx.Headers:
        merged = httpx.Headers(headers)
        request_id = current_request_id()
        if request_id and REQUEST_ID_HEADER not in merged:
            merged[REQUEST_ID_HEADER] = request_id
        for name, value in inject_trace_headers({}).items():
            merged.setdefault(name, value)
        return merged

    async def _send(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        host: str,
        deadline: asyncio.Timeout,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        upstream = self._upstreams.get(host)
        upstream.budget.record_request()
        retry_safe = is_retry_safe(request)
        last_error: UpstreamError | None = None
        tries = 0
        while True:
            try:
                permit = upstream.breaker.acquire()
            except CircuitOpenError as exc:
                raise exc from last_error
            tries += 1
            try:
                response = await self._attempt(
                    client, request, host, upstream, permit, deadline, auth
                )
            except httpx.TransportError as exc:
                error = self._typed_error(exc, request, host)
                reason = error_retry_reason(exc) if retry_safe else None
                delay = self._retry_delay(tries, upstream, host, reason, deadline, None)
                if reason is None or delay is None:
                    raise error from exc
                last_error = error
            else:
                reason = status_retry_reason(response.status_code) if retry_safe else None
                wanted = retry_after_seconds(response) if reason else None
                delay = self._retry_delay(tries, upstream, host, reason, deadline, wanted)
                if reason is None or delay is None:
                    return self._final(response, host)
                await response.aclose()
                last_error = UpstreamStatusError(response, host=host)
            self._metrics.retries.labels(host=host, reason=reason).inc()
            _log.info("http_client_retry", host=host, reason=reason, attempt=tries, delay=delay)
            await self._sleep(delay)

    def _retry_delay(
        self,
        tries: int,
        upstream: Upstream,
        host: str,
        reason: str | None,
        deadline: asyncio.Timeout,
        retry_after: float | None,
    ) -> float | None:
        """Seconds to wait before the next try, or None when there is none to be made."""
        retry = self.settings.retry
        if reason is None or tries >= retry.attempts:
            return None
        if upstream.breaker.state is CircuitState.OPEN:
            return None  # this failure opened the circuit: report it rather than fast-fail
        if retry_after is not None:
            delay = min(retry_after, retry.retry_after_max)
        else:
            delay = backoff_delay(tries, retry, self._rng)
        when = deadline.when()
        if when is not None and asyncio.get_running_loop().time() + delay >= when:
            return None  # the wait would outlast the total timeout: report the failure now
        if not upstream.budget.try_withdraw():
            self._metrics.budget_exhausted.labels(host=host).inc()
            return None
        return delay

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        host: str,
        upstream: Upstream,
        permit: Permit,
        deadline: asyncio.Timeout,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """One try: send, record its outcome on the breaker and the metrics."""
        breaker = upstream.breaker
        started = time.perf_counter()
        status = "error"
        try:
            response = await client.send(
                request, auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth
            )
        except httpx.TransportError as exc:
            status = "timeout" if isinstance(exc, httpx.TimeoutException) else "error"
            if counts_against_upstream(exc):
                breaker.record_failure(permit)
            else:
                breaker.release(permit)
            raise
        except asyncio.CancelledError:
            if deadline.expired():  # the total timeout cut this try short
                status = "timeout"
                breaker.record_failure(permit)
            else:
                status = "cancelled"
                breaker.release(permit)
            raise
        except BaseException:
            breaker.release(permit)
            raise
        else:
            status = str(response.status_code)
            if response.status_code >= 500:
                breaker.record_failure(permit)
            else:
                breaker.record_success(permit)
            return response
        finally:
            labels = {"host": host, "method": request.method, "status": status}
            self._metrics.requests.labels(**labels).inc()
            self._metrics.duration.labels(**labels).observe(time.perf_counter() - started)

    def _final(self, response: httpx.Response, host: str) -> httpx.Response:
        if self.settings.raise_for_status and response.status_code >= 400:
            raise UpstreamStatusError(response, host=host)
        return response

    @staticmethod
    def _typed_error(exc: httpx.TransportError, request: httpx.Request, host: str) -> UpstreamError:
        message = f"{request.method} {request.url}: {type(exc).__name__}: {exc}"
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeout(message, host=host)
        return UpstreamUnavailable(message, host=host)
