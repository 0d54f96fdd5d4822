"""What a client keeps per upstream host: a circuit breaker and a retry budget."""

from collections.abc import Callable

import httpx
from prometheus_client import Gauge

from slipway.http.breaker import CircuitBreaker, CircuitState
from slipway.http.budget import RetryBudget
from slipway.http.settings import HttpClientSettings


def host_of(url: httpx.URL) -> str:
    """The upstream key and metric label for `url`: host, plus the port when not default."""
    return url.netloc.decode("ascii")


class Upstream:
    """One host's breaker and retry budget."""

    def __init__(self, breaker: CircuitBreaker, budget: RetryBudget) -> None:
        self.breaker = breaker
        self.budget = budget


class Upstreams:
    """Upstream state by host, created on first use; breaker states go to `circuit_gauge`."""

    def __init__(
        self, settings: HttpClientSettings, clock: Callable[[], float], circuit_gauge: Gauge
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._gauge = circuit_gauge
        self._by_host: dict[str, Upstream] = {}

    def _export_state(self, host: str, state: CircuitState) -> None:
        self._gauge.labels(host=host).set(int(state))

    def get(self, host: str) -> Upstream:
        """The state of `host`, created closed with a fresh budget on first use."""
        upstream = self._by_host.get(host)
        if upstream is None:
            breaker = CircuitBreaker(
                host, self._settings.breaker, self._clock, on_change=self._export_state
            )
            upstream = Upstream(breaker, RetryBudget(self._settings.retry, self._clock))
            self._by_host[host] = upstream
        return upstream

    def circuit_state(self, host: str) -> CircuitState:
        """The breaker state of `host`; closed for a host not called yet."""
        upstream = self._by_host.get(host)
        return CircuitState.CLOSED if upstream is None else upstream.breaker.state
