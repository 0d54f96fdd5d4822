"""`ACCEPTS_IDEMPOTENCY_KEY`: a route declares `Idempotency-Key` so the OpenAPI document shows it.

`IdempotencyMiddleware` does the work before the route runs; the dependency only puts the header,
with its syntax, into the route's parameters, so every service declares it the same way.
"""

from typing import Annotated, Final

from fastapi import Depends, Header
from fastapi.params import Depends as DependsParam

from slipway.web.idempotency.fingerprint import IDEMPOTENCY_KEY_PATTERN

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=f"^{IDEMPOTENCY_KEY_PATTERN.pattern}$",
        description="replay the first response to this key instead of repeating the request",
    ),
]


async def _accepts_idempotency_key(idempotency_key: IdempotencyKeyHeader = None) -> None:
    """Declares `Idempotency-Key` for the OpenAPI document; the middleware has acted on it.

    `async`: FastAPI would run a plain `def` dependency in its thread pool on every request.
    """


ACCEPTS_IDEMPOTENCY_KEY: Final[DependsParam] = Depends(_accepts_idempotency_key)
