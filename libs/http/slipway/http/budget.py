"""A retry budget: retries may add at most a share of extra requests over a sliding window."""

from collections.abc import Callable

from slipway.http.rolling_window import RollingCounter
from slipway.http.settings import RetrySettings


class RetryBudget:
    """Finagle-style: each request deposits `budget_ratio` of a retry, each retry withdraws one.

    A reserve of `budget_min_per_second` retries per second keeps low-traffic clients able to
    retry at all. Deposits and withdrawals older than `budget_window` seconds expire.
    """

    def __init__(self, settings: RetrySettings, clock: Callable[[], float]) -> None:
        self._ratio = settings.budget_ratio
        self._reserve = settings.budget_min_per_second * settings.budget_window
        self._requests = RollingCounter(settings.budget_window, clock)
        self._retries = RollingCounter(settings.budget_window, clock)

    def record_request(self) -> None:
        """Count one original (not retried) request."""
        self._requests.add()

    def balance(self) -> float:
        """Retries still allowed in the current window."""
        allowed = self._reserve + self._ratio * self._requests.total()
        return allowed - self._retries.total()

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it; False means do not retry."""
        if self.balance() < 1:
            return False
        self._retries.add()
        return True
