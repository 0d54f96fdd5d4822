"""The example service: its settings, its composition root and the `Service` that runs it."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import SettingsConfigDict

from slipway.config import ServiceSettings
from slipway.logging import get_logger
from slipway.observability import ObservabilitySettings
from slipway.web import ProblemError, Service, ServiceParts, WebSettings, example
from slipway.web.example.store import GreetingStore, StoreReady

VERSION = "0.1.0"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"

log = get_logger("slipway.web.example")


class Settings(ServiceSettings):
    """The example's settings: `EXAMPLE_*` variables, nested ones with `__`."""

    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    service_name: str = "example"
    version: str = VERSION
    web: WebSettings = WebSettings()  # EXAMPLE_WEB__PORT, EXAMPLE_WEB__MAX_BODY_BYTES, ...
    observability: ObservabilitySettings = ObservabilitySettings()


GreetedName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class NewGreeting(BaseModel):
    """A greeting template to register for one name."""

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    template: str = Field(min_length=1, max_length=200, examples=["Good morning, {name}."])

    @field_validator("template")
    @classmethod
    def _mentions_the_name(cls, template: str) -> str:
        if "{name}" not in template:
            raise ValueError("must contain the placeholder {name}")
        return template


class Greeting(BaseModel):
    """A rendered greeting."""

    name: str
    message: str


def greetings_router(store: GreetingStore) -> APIRouter:
    """Version 1 of the greetings API, served from `store`."""
    router = APIRouter(prefix="/v1/greetings", tags=["greetings"])

    @router.get("/{name}", summary="Greet someone")
    async def greet(name: GreetedName) -> Greeting:
        # replace(), not format(): a template is user input and format() can reach attributes.
        message = store.template_for(name).replace("{name}", name)
        log.info("greeting served", greeted=name)
        return Greeting(name=name, message=message)

    @router.post("", status_code=status.HTTP_201_CREATED, summary="Register a greeting")
    async def register(new: NewGreeting) -> dict[str, Any]:
        if not store.add(new.name, new.template):
            raise ProblemError(
                409,
                f"{new.name} already has a greeting",
                type="urn:slipway:example:greeting-exists",
            )
        log.info("greeting registered", greeted=new.name)
        return {"name": new.name, "template": new.template}

    return router


def compose(settings: Settings) -> ServiceParts:
    """The example's parts: the greetings router on an in-memory store and its readiness check."""
    store = GreetingStore()
    return ServiceParts(
        routers=[greetings_router(store)], resources=[store], readiness_checks=[StoreReady(store)]
    )


# The contract sits beside this package (a service's sits at services/<name>/openapi.json).
service = Service(
    Settings, compose, title="Slipway example", package=example, root="libs/web/slipway/web/example"
)
