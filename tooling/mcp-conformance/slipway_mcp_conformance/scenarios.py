"""Which server scenarios of @modelcontextprotocol/conformance 0.1.10 apply to the contexts server.

Every scenario `conformance list --server` prints must be in `SCENARIOS`: the runner refuses a
scenario it does not know (a new pin must be classified, never skipped silently). The reasons
are the README's "Scenarios that do not apply" table.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """A conformance server scenario: run it (`applies`), or why not."""

    name: str
    applies: bool
    reason: str = ""
    covered_by: str = ""
    """What checks the same behaviour on this server instead (inspector checks, service tests)."""


def _na(name: str, reason: str, covered_by: str = "") -> Scenario:
    return Scenario(name, applies=False, reason=reason, covered_by=covered_by)


_FIXTURE_TOOL = "needs the reference test server's fixture tool `{tool}`"
_FIXTURE_URI = "reads the reference test server's fixture resource `{uri}`"
_NO_PROMPTS = "the server declares no `prompts` capability (-32601 is the right answer)"
_NO_CLIENT_REQUESTS = "the server never sends {what} requests to the client"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("server-initialize", applies=True),
    Scenario("ping", applies=True),
    Scenario("tools-list", applies=True),
    Scenario("resources-list", applies=True),
    Scenario("server-sse-multiple-streams", applies=True),
    _na(
        "logging-set-level",
        "the server declares no `logging` capability (-32601 is the right answer)",
    ),
    _na(
        "completion-complete",
        "the server declares no `completions` capability; the request names a fixture prompt",
    ),
    _na(
        "tools-call-simple-text",
        _FIXTURE_TOOL.format(tool="test_simple_text"),
        "inspector: tools/call register_context (text content + structuredContent)",
    ),
    _na("tools-call-image", _FIXTURE_TOOL.format(tool="test_image_content")),
    _na("tools-call-audio", _FIXTURE_TOOL.format(tool="test_audio_content")),
    _na("tools-call-embedded-resource", _FIXTURE_TOOL.format(tool="test_embedded_resource")),
    _na("tools-call-mixed-content", _FIXTURE_TOOL.format(tool="test_multiple_content_types")),
    _na(
        "tools-call-with-logging",
        "needs the `logging` capability and the fixture tool `test_tool_with_logging`",
    ),
    _na(
        "tools-call-error",
        _FIXTURE_TOOL.format(tool="test_error_handling"),
        "inspector: tools/call get_context on a missing context (isError + problem)",
    ),
    _na("tools-call-with-progress", _FIXTURE_TOOL.format(tool="test_tool_with_progress")),
    _na("tools-call-sampling", _NO_CLIENT_REQUESTS.format(what="sampling")),
    _na("tools-call-elicitation", _NO_CLIENT_REQUESTS.format(what="elicitation")),
    _na("elicitation-sep1034-defaults", _NO_CLIENT_REQUESTS.format(what="elicitation")),
    _na("elicitation-sep1330-enums", _NO_CLIENT_REQUESTS.format(what="elicitation")),
    _na(
        "json-schema-2020-12",
        _FIXTURE_TOOL.format(tool="json_schema_2020_12_tool"),
        "inspector: tools/list (every tool has an object inputSchema)",
    ),
    _na(
        "server-sse-polling",
        "needs the fixture tool `test_reconnection`, which closes its SSE stream mid-call "
        "(SEP-1699); the server keeps no event store, so it offers no resumption",
    ),
    _na(
        "resources-read-text",
        _FIXTURE_URI.format(uri="test://static-text"),
        "inspector: resources/read context://conformance/<probe> (application/json text)",
    ),
    _na(
        "resources-read-binary",
        _FIXTURE_URI.format(uri="test://static-binary") + "; contexts are JSON text only",
    ),
    _na(
        "resources-templates-read",
        _FIXTURE_URI.format(uri="test://template/123/data"),
        "inspector: resources/templates/list and resources/read of a context:// URI",
    ),
    _na(
        "resources-subscribe",
        _FIXTURE_URI.format(uri="test://watched-resource"),
        "services/contexts/src/contexts/tests/mcp/test_mcp_endpoint.py (subscribe + updates)",
    ),
    _na(
        "resources-unsubscribe",
        _FIXTURE_URI.format(uri="test://watched-resource"),
        "services/contexts/src/contexts/tests/mcp/test_mcp_endpoint.py",
    ),
    _na("prompts-list", _NO_PROMPTS),
    _na("prompts-get-simple", _NO_PROMPTS),
    _na("prompts-get-with-args", _NO_PROMPTS),
    _na("prompts-get-embedded-resource", _NO_PROMPTS),
    _na("prompts-get-with-image", _NO_PROMPTS),
)

BY_NAME: dict[str, Scenario] = {scenario.name: scenario for scenario in SCENARIOS}


def unclassified(listed: list[str]) -> list[str]:
    """The scenarios the suite lists that `SCENARIOS` does not classify."""
    return [name for name in listed if name not in BY_NAME]


def parse_list_output(text: str) -> list[str]:
    """The scenario names of `conformance list --server` (lines `  - <name>`)."""
    return [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("- ")]
