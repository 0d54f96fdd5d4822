"""`accepts`: other request media types get a 415 problem listing the accepted ones."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body
from pydantic import BaseModel

from slipway.config import ServiceSettings
from slipway.web import ServiceParts, accepts, create_app
from slipway.web.testing import app_client

MERGE_PATCH = "application/merge-patch+json"


class Patch(BaseModel):
    title: str | None = None


router = APIRouter()


@router.patch("/items/{item}", dependencies=[accepts(MERGE_PATCH, "application/json")])
async def patch_item(item: str, patch: Annotated[Patch, Body(media_type=MERGE_PATCH)]) -> Any:
    return {"item": item, **patch.model_dump(exclude_unset=True)}


@router.post("/items", dependencies=[accepts(MERGE_PATCH)])
async def post_item(patch: Annotated[Patch, Body(media_type=MERGE_PATCH)]) -> Any:
    return patch.model_dump(exclude_unset=True)


@pytest.fixture
async def client(service_settings: ServiceSettings) -> AsyncIterator[Any]:
    app = create_app(service_settings, ServiceParts(routers=[router]))
    async with app_client(app) as http:
        yield http


@pytest.mark.parametrize(
    "content_type", [MERGE_PATCH, "Application/Merge-Patch+JSON; charset=utf-8", "application/json"]
)
async def test_an_accepted_media_type_passes(client: Any, content_type: str) -> None:
    response = await client.patch(
        "/items/a", content=b'{"title": "t"}', headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert response.json() == {"item": "a", "title": "t"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_another_media_type_is_a_415_with_accept_patch(
    client: Any, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.patch("/items/a", content=b'{"title": "t"}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["accept-patch"] == f"{MERGE_PATCH}, application/json"
    body = response.json()
    assert body["accepted"] == [MERGE_PATCH, "application/json"]
    assert MERGE_PATCH in body["detail"]
    assert body["request_id"]


async def test_post_names_accept_post(client: Any) -> None:
    response = await client.post(
        "/items", content=b"{}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 415
    assert response.headers["accept-post"] == MERGE_PATCH
    assert "accept-patch" not in response.headers


def test_accepts_needs_a_media_type() -> None:
    with pytest.raises(ValueError, match="at least one"):
        accepts()
