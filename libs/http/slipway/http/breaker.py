"""A circuit breaker per upstream host: closed, open (fast-fail), half-open (probing)."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from slipway.http.errors import CircuitOpenError
from slipway.http.rolling_window import RollingCounter
from slipway.http.settings import BreakerSettings


class CircuitState(IntEnum):
    """Breaker states; the values are what `http_client_circuit_state` exports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to send one request, issued in one breaker generation (a stale outcome is ignored)."""

    generation: int
    probe: bool


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures or a failure ratio over a window.

    Open, it fails fast with CircuitOpenError for `open_duration` seconds, then lets
    `half_open_probes` trial requests through: that many successes close it, one failure
    reopens it. Outcomes of requests issued before the last state change are ignored.
    """

    def __init__(
        self,
        host: str,
        settings: BreakerSettings,
        clock: Callable[[], float],
        on_change: Callable[[str, CircuitState], None] = lambda host, state: None,
    ) -> None:
        self.host = host
        self._settings = settings
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._consecutive_failures = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._calls = RollingCounter(settings.window, clock)
        self._failures = RollingCounter(settings.window, clock)
        on_change(host, self._state)

    @property
    def state(self) -> CircuitState:
        """The current state; an open circuit turns half-open once `open_duration` passed."""
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self._settings.open_duration
        ):
            self._transition(CircuitState.HALF_OPEN)
        return self._state

    def _transition(self, state: CircuitState) -> None:
        self._state = state
        self._generation += 1
        self._consecutive_failures = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        if state is CircuitState.OPEN:
            self._opened_at = self._clock()
        elif state is CircuitState.CLOSED:
            self._calls.clear()
            self._failures.clear()
        self._on_change(self.host, state)

    def acquire(self) -> Permit:
        """Leave to send a request, or CircuitOpenError when the circuit does not allow one."""
        state = self.state
        if state is CircuitState.OPEN:
            remaining = self._opened_at + self._settings.open_duration - self._clock()
            raise CircuitOpenError(host=self.host, retry_after=max(remaining, 0.0))
        if state is CircuitState.HALF_OPEN:
            if self._probes_in_flight >= self._settings.half_open_probes:
                # Probes are out; their outcome decides, so the caller may try again soon.
                raise CircuitOpenError(host=self.host, retry_after=0.0)
            self._probes_in_flight += 1
            return Permit(self._generation, probe=True)
        return Permit(self._generation, probe=False)

    def record_success(self, permit: Permit) -> None:
        """The request sent under `permit` succeeded."""
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._probes_in_flight -= 1
            self._probe_successes += 1
            if self._probe_successes >= self._settings.half_open_probes:
                self._transition(CircuitState.CLOSED)
            return
        self._consecutive_failures = 0
        self._calls.add()

    def record_failure(self, permit: Permit) -> None:
        """The request sent under `permit` failed in a way that counts against the upstream."""
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._transition(CircuitState.OPEN)
            return
        self._consecutive_failures += 1
        self._calls.add()
        self._failures.add()
        if self._should_trip():
            self._transition(CircuitState.OPEN)

    def release(self, permit: Permit) -> None:
        """The request under `permit` ended without a verdict (cancelled): free its probe slot."""
        if permit.generation == self._generation and permit.probe:
            self._probes_in_flight -= 1

    def _should_trip(self) -> bool:
        if self._consecutive_failures >= self._settings.failure_threshold:
            return True
        ratio = self._settings.failure_ratio
        if ratio is None:
            return False
        calls = self._calls.total()
        return calls >= self._settings.minimum_requests and self._failures.total() >= ratio * calls
