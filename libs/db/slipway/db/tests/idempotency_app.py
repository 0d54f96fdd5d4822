"""The service of the two-process idempotency test: `python -m slipway.db.tests.idempotency_app`.

Built as any service is (`create_app` with `ServiceParts`), with `IdempotencyMiddleware` on a
`SqlIdempotencyStore`. `POST /v1/orders` inserts one row per run into `orders`: the effect the
test counts. The environment configures it: IDEMPOTENCY_APP_PORT, IDEMPOTENCY_APP_DATABASE_URL.
"""

import asyncio
import os
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, SecretStr
from starlette.middleware import Middleware

from slipway.config import Environment, ServiceSettings
from slipway.db import Database, DatabaseSettings
from slipway.db.idempotency import SqlIdempotencyStore, idempotency_table
from slipway.web import (
    ORJSONResponse,
    RateLimitSettings,
    ServiceParts,
    WebSettings,
    create_app,
    serve,
)
from slipway.web.idempotency import (
    IdempotencyMiddleware,
    IdempotencySettings,
    principal_or_anonymous,
)

METADATA = sa.MetaData()
IDEMPOTENCY = idempotency_table(METADATA)
ORDERS = sa.Table(
    "orders",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("item", sa.String(100), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
)


class OrderIn(BaseModel):
    """An order to place."""

    item: str
    quantity: int
    delay_seconds: float = 0.0


def orders_router(database: Database) -> APIRouter:
    """`POST /v1/orders`: one row per run, then a 201 naming the process that ran it."""
    router = APIRouter()

    @router.post("/v1/orders", status_code=201)
    async def place(order: OrderIn) -> ORJSONResponse:
        order_id = uuid.uuid4().hex
        async with database.engine.begin() as connection:
            await connection.execute(
                sa.insert(ORDERS).values(id=order_id, item=order.item, pid=os.getpid())
            )
        await asyncio.sleep(order.delay_seconds)  # hold the reservation while duplicates arrive
        body: dict[str, Any] = {"quantity": order.quantity, "id": order_id, "pid": os.getpid()}
        return ORJSONResponse(body, 201, headers={"location": f"/v1/orders/{order_id}"})

    return router


def main() -> None:
    """Serve the app until SIGTERM."""
    web = WebSettings(
        port=int(os.environ["IDEMPOTENCY_APP_PORT"]), rate_limit=RateLimitSettings(enabled=False)
    )
    settings = ServiceSettings(service_name="idempotency-test", environment=Environment.TEST)
    url = SecretStr(os.environ["IDEMPOTENCY_APP_DATABASE_URL"])
    database = Database(DatabaseSettings(url=url), service_name=settings.service_name)
    store = SqlIdempotencyStore(database, table=IDEMPOTENCY)
    idempotency = IdempotencySettings(wait_seconds=20.0)
    parts = ServiceParts(
        routers=[orders_router(database)],
        resources=[database],
        readiness_checks=[database.readiness_check],
        middleware=[
            Middleware(
                IdempotencyMiddleware,
                store=store,
                settings=idempotency,
                subject=principal_or_anonymous,
            )
        ],
    )
    serve(create_app(settings, parts, web=web))


if __name__ == "__main__":
    main()
