"""The items routes, version 1: create, get and list."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from search.api.schemas import ItemList, ItemResponse, NewItem
from search.domain.model import ItemNotFoundError
from search.domain.service import DEFAULT_PAGE_SIZE, ItemService
from slipway.web import ACCEPTS_IDEMPOTENCY_KEY, ProblemError

ITEM_NOT_FOUND = "urn:search:problem:item-not-found"
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def items_router(service: ItemService) -> APIRouter:
    """The /v1/items routes, served by `service`."""
    router = APIRouter(prefix="/v1/items", tags=["items"])

    # The middleware (composition.py) replays a repeated Idempotency-Key; this declares it.
    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="Create an item",
        dependencies=[ACCEPTS_IDEMPOTENCY_KEY],
    )
    async def create_item(new: NewItem) -> ItemResponse:
        return ItemResponse.of(await service.create(new.name))

    @router.get("", summary="List items, ordered by name")
    async def list_items(
        limit: Annotated[int, Query(ge=1, le=100)] = DEFAULT_PAGE_SIZE,
    ) -> ItemList:
        items = await service.list_items(limit)
        return ItemList(items=[ItemResponse.of(item) for item in items])

    @router.get(
        "/{item_id}",
        summary="Get an item",
        responses={404: {"description": "No item has this id", **PROBLEM}},
    )
    async def get_item(item_id: UUID) -> ItemResponse:
        try:
            item = await service.get(item_id)
        except ItemNotFoundError as exc:
            raise ProblemError(404, str(exc), type=ITEM_NOT_FOUND) from exc
        return ItemResponse.of(item)

    return router
