"""`JitteredBackoff`: capped exponential pauses with full jitter between write retries."""

import asyncio
import random

import pytest

from contexts.adapters.backoff import JitteredBackoff


def test_pauses_are_jittered_below_a_capped_doubling_bound() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    backoff = JitteredBackoff(0.01, 0.05, rng=random.Random(3), sleep=sleep)  # noqa: S311

    async def pauses() -> None:
        for retry in range(1, 8):
            await backoff.pause(retry)

    asyncio.run(pauses())

    bounds = [0.01, 0.02, 0.04, 0.05, 0.05, 0.05, 0.05]
    assert [backoff.bound(retry) for retry in range(1, 8)] == bounds
    assert all(0 <= pause < bound for pause, bound in zip(slept, bounds, strict=True))
    assert len(set(slept)) == len(slept)  # drawn at random, not fixed steps


@pytest.mark.parametrize("arguments", [(-1.0, 0.1), (0.1, -1.0)])
def test_a_negative_backoff_is_refused(arguments: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="negative"):
        JitteredBackoff(*arguments)
