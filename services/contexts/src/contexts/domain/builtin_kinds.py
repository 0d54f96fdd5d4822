"""The kinds every registry starts with: documents, agent profiles and free-form config."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel, StringConstraints

from contexts.domain.kinds import KindRegistry
from contexts.domain.model import JsonObject

ToolName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.:-]{1,128}$")]


class _Body(BaseModel):
    # Strict: a body is JSON, and its JSON Schema (in /v1/kinds and the OpenAPI document) is
    # exactly what is accepted, e.g. `"20"` is not an integer.
    model_config = ConfigDict(extra="forbid", strict=True)


class DocumentV1(_Body):
    """`document` v1: a piece of text or Markdown, e.g. a runbook an agent may consult."""

    content: Annotated[str, Field(max_length=1_000_000)]
    format: Literal["text", "markdown"] = "text"
    title: Annotated[str, Field(max_length=200)] | None = None


class AgentProfileV1(_Body):
    """`agent-profile` v1: how to run an agent, with the tools it may call by name."""

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    instructions: Annotated[str, Field(max_length=100_000)] = ""
    tools: list[ToolName] = Field(default_factory=list)


class ToolGrant(_Body):
    """A tool an agent may call and the scopes it calls it with."""

    name: ToolName
    scopes: list[str] = Field(default_factory=list)


class AgentProfileV2(_Body):
    """`agent-profile` v2: tools become grants with scopes, and a turn limit is added."""

    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    instructions: Annotated[str, Field(max_length=100_000)] = ""
    tools: list[ToolGrant] = Field(default_factory=list)
    max_turns: Annotated[int, Field(ge=1, le=1000)] = 20


def agent_profile_v1_to_v2(body: JsonObject) -> JsonObject:
    """A v1 agent profile as v2: each tool name becomes a grant with no scopes."""
    tools = body.get("tools", [])
    grants: list[JsonValue] = (
        [{"name": name, "scopes": []} for name in tools] if isinstance(tools, list) else []
    )
    return {**body, "tools": grants}


class ConfigV1(RootModel[dict[str, JsonValue]]):
    """`config` v1: any JSON object, for settings an application shares with others."""


def default_kinds() -> KindRegistry:
    """A fresh registry holding the built-in kinds."""
    registry = KindRegistry()
    registry.register("document", 1, DocumentV1)
    registry.register("agent-profile", 1, AgentProfileV1)
    registry.register("agent-profile", 2, AgentProfileV2, agent_profile_v1_to_v2)
    registry.register("config", 1, ConfigV1)
    return registry
