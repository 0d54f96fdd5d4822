"""The OpenAPI document lists every problem the platform sends, all application/problem+json."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from slipway.config import ServiceSettings
from slipway.web import RateLimitSettings, ServiceParts, WebSettings, accepts, create_app

MERGE_PATCH = "application/merge-patch+json"
bearer = HTTPBearer(scheme_name="bearer", auto_error=False)
Token = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


class Thing(BaseModel):
    name: str


router = APIRouter()


@router.get("/public/{name}")
async def public(name: str) -> dict[str, str]:
    return {"name": name}


@router.post("/things", responses={409: {"description": "exists"}})
async def create_thing(thing: Thing, token: Token) -> Thing:
    return thing


@router.patch("/things/{name}", dependencies=[accepts(MERGE_PATCH, "application/json")])
async def patch_thing(name: str, patch: Annotated[Thing, Body(media_type=MERGE_PATCH)]) -> Thing:
    return patch


def _document(settings: ServiceSettings, *, rate_limit: bool = True) -> dict[str, Any]:
    web = WebSettings(rate_limit=RateLimitSettings(enabled=rate_limit))
    app = create_app(settings, ServiceParts(routers=[router]), web=web)
    document: dict[str, Any] = app.openapi()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _responses(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


def test_every_error_response_is_a_problem(service_settings: ServiceSettings) -> None:
    document = _document(service_settings)
    for (path, method), operation in _operations(document).items():
        errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
        assert {"414", "431", "500"} <= errors.keys(), (path, method)
        for status, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (path, status)
            ref = response["content"]["application/problem+json"]["schema"]["$ref"]
            expected = "ValidationProblem" if status == "422" else "Problem"
            assert ref == f"#/components/schemas/{expected}"
    schemas = document["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "ProblemFieldError"} <= schemas.keys()
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert "HTTPValidationError" not in repr(document)


def test_auth_problems_only_where_a_token_is_required(service_settings: ServiceSettings) -> None:
    document = _document(service_settings)
    secured = _responses(document, "/things", "post")
    assert {"401", "403"} <= secured.keys()
    assert "WWW-Authenticate" in secured["401"]["headers"]
    assert secured["409"]["description"] == "exists"  # the route's own stays
    for path, method in [
        ("/public/{name}", "get"),
        ("/things/{name}", "patch"),
        ("/health", "get"),
    ]:
        assert not {"401", "403"} & _responses(document, path, method).keys()


def test_body_problems_only_where_there_is_a_body(service_settings: ServiceSettings) -> None:
    document = _document(service_settings)
    assert {"413", "415", "422"} <= _responses(document, "/things", "post").keys()
    public = _responses(document, "/public/{name}", "get")
    assert not {"413", "415"} & public.keys()
    assert "422" in public  # the path parameter can be invalid


def test_rate_limit_problems_follow_the_settings(service_settings: ServiceSettings) -> None:
    limited = _document(service_settings)
    too_many = _responses(limited, "/public/{name}", "get")["429"]
    assert too_many["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "429" not in _responses(limited, "/health", "get")  # exempt from the limit
    unlimited = _document(service_settings, rate_limit=False)
    assert all("429" not in op["responses"] for op in _operations(unlimited).values())


def test_accepted_media_types_are_documented(service_settings: ServiceSettings) -> None:
    document = _document(service_settings)
    operation = document["paths"]["/things/{name}"]["patch"]
    content = operation["requestBody"]["content"]
    assert list(content) == [MERGE_PATCH, "application/json"]
    assert content[MERGE_PATCH] == content["application/json"]
    assert content[MERGE_PATCH]["schema"] == {"$ref": "#/components/schemas/Thing"}
    assert "Accept-Patch" in operation["responses"]["415"]["headers"]


def test_a_later_openapi_wrapper_sees_the_amended_document(
    service_settings: ServiceSettings,
) -> None:
    seen: list[dict[str, Any]] = []

    def wrap(app: Any) -> None:
        build = app.openapi

        def openapi() -> dict[str, Any]:
            document: dict[str, Any] = build()
            seen.append(document)
            return document

        app.openapi = openapi

    app = create_app(service_settings, ServiceParts(routers=[router], on_app=[wrap]))
    first = app.openapi()
    assert app.openapi() == first  # amending again changes nothing
    assert "500" in seen[0]["paths"]["/health"]["get"]["responses"]


def test_readiness_documents_its_503_problem(service_settings: ServiceSettings) -> None:
    responses = _responses(_document(service_settings), "/ready", "get")
    assert responses["503"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
