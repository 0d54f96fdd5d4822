"""Checks through the official MCP inspector's CLI mode (@modelcontextprotocol/inspector-cli).

Each check is one `inspector-cli <url> --transport http --header "Authorization: Bearer ..."
--method ...` run (a fresh initialize handshake each time), judged on the JSON it prints.
"""

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway_mcp_conformance.results import Outcome, Verdict

TOOLS = ("register_context", "update_context", "delete_context", "get_context", "list_contexts")
URI_TEMPLATE = "context://{namespace}/{name}"
NAMESPACE = "conformance"
"""The namespace the runner lists in resources/list (CONTEXTS_MCP_NAMESPACES)."""
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """What one inspector run printed."""

    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The JSON result the inspector printed on success."""
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


class ExpectationError(Exception):
    """A check's expectation did not hold; the message says which."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExpectationError(message)


class Inspector:
    """Runs the inspector CLI against one server with one token."""

    def __init__(self, node_modules: Path, url: str, token: str) -> None:
        self._entry = node_modules / "@modelcontextprotocol/inspector-cli/build/index.js"
        # inspector-cli 1.0.3 tests `fs.existsSync("../package.json")` relative to the working
        # directory, then imports it relative to its own module (modelcontextprotocol/inspector
        # issues 1334 and 1503): from node_modules/, "../package.json" exists for both.
        self._cwd = node_modules
        self._url = url
        self._token = token

    def call(self, method: str, *args: str, authorized: bool = True) -> Reply:
        """One inspector run of `method` with extra arguments."""
        command = ["node", str(self._entry), self._url, "--transport", "http", "--method", method]
        if authorized:
            command += ["--header", f"Authorization: Bearer {self._token}"]
        done = subprocess.run(  # noqa: S603 - our own pinned tool, no shell
            [*command, *args],
            cwd=self._cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Reply(done.returncode, done.stdout, done.stderr)

    def ok(self, method: str, *args: str) -> Any:
        """The JSON result of a run that must succeed."""
        reply = self.call(method, *args)
        _expect(reply.status == 0, f"exit {reply.status}: {_last_line(reply.output)}")
        return reply.json()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _tool_result(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ExpectationError(f"not a tool result: {result!r}")
    content: Any = result.get("content")
    _expect(isinstance(content, list) and bool(content), "no content")
    first = content[0]
    _expect(first.get("type") == "text", f"content[0] is {first.get('type')!r}, not text")
    structured = result.get("structuredContent")
    _expect(isinstance(structured, dict), "no structuredContent object")
    _expect(json.loads(first["text"]) == structured, "text content != structuredContent")
    return result


def checks(inspector: Inspector, probe: str) -> list[Outcome]:
    """Every inspector check, in order, on the context `conformance/<probe>`."""
    uri = f"context://{NAMESPACE}/{probe}"
    body = {"content": "written by tooling/mcp-conformance", "format": "text", "title": None}

    def tools_list() -> str:
        tools = inspector.ok("tools/list")["tools"]
        names = [tool["name"] for tool in tools]
        _expect(set(TOOLS) <= set(names), f"tools {names}, expected {list(TOOLS)}")
        for tool in tools:
            _expect(bool(tool.get("description")), f"{tool['name']}: no description")
            schema = tool.get("inputSchema")
            _expect(
                isinstance(schema, dict) and schema.get("type") == "object",
                f"{tool['name']}: inputSchema is not an object schema",
            )
        return f"{len(tools)} tools"

    def register() -> str:
        result = _tool_result(
            inspector.ok(
                "tools/call",
                "--tool-name",
                "register_context",
                *("--tool-arg", f"namespace={NAMESPACE}", "--tool-arg", f"name={probe}"),
                *("--tool-arg", "kind=document", "--tool-arg", "schema_version=1"),
                *("--tool-arg", "body=" + json.dumps({"content": body["content"]})),
            )
        )
        _expect(result.get("isError") is False, f"isError: {result['structuredContent']}")
        _expect(result["structuredContent"].get("uri") == uri, "wrong uri in the result")
        return f"created {uri}"

    def resources_list() -> str:
        resources = inspector.ok("resources/list")["resources"]
        found = [r for r in resources if r.get("uri") == uri]
        _expect(bool(found), f"{uri} not listed")
        _expect(found[0].get("mimeType") == JSON, f"mimeType {found[0].get('mimeType')!r}")
        _expect(bool(found[0].get("name")), "no name")
        return f"{len(resources)} resources, {uri} among them"

    def templates_list() -> str:
        templates = inspector.ok("resources/templates/list")["resourceTemplates"]
        found = [t.get("uriTemplate") for t in templates]
        _expect(URI_TEMPLATE in found, f"templates {found}")
        return URI_TEMPLATE

    def resources_read() -> str:
        contents = inspector.ok("resources/read", "--uri", uri)["contents"]
        _expect(len(contents) == 1, f"{len(contents)} contents")
        _expect(contents[0].get("uri") == uri, "wrong uri")
        _expect(contents[0].get("mimeType") == JSON, f"mimeType {contents[0].get('mimeType')!r}")
        _expect(json.loads(contents[0]["text"]) == body, f"body {contents[0]['text']}")
        return "application/json text = the registered body"

    def read_missing() -> str:
        reply = inspector.call("resources/read", "--uri", f"context://{NAMESPACE}/{probe}-missing")
        _expect(reply.status != 0, "reading a missing context succeeded")
        _expect("-32002" in reply.output, f"not -32002: {_last_line(reply.output)}")
        _expect("Traceback" not in reply.output, "a traceback in the answer")
        return "-32002 Resource not found"

    def get_missing() -> str:
        result = _tool_result(
            inspector.ok(
                "tools/call",
                *("--tool-name", "get_context", "--tool-arg", f"namespace={NAMESPACE}"),
                *("--tool-arg", f"name={probe}-missing"),
            )
        )
        problem = result["structuredContent"]
        _expect(result.get("isError") is True, "isError is not true")
        _expect(problem.get("status") == 404, f"problem {problem}")
        _expect("Traceback" not in json.dumps(result), "a traceback in the answer")
        return f"isError, problem {problem.get('status')} {problem.get('title')!r}"

    def unauthenticated() -> str:
        reply = inspector.call("tools/list", authorized=False)
        _expect(reply.status != 0, "tools/list without a token succeeded")
        _expect("401" in reply.output, f"not a 401: {_last_line(reply.output)}")
        return "refused with 401"

    def delete() -> str:
        result = _tool_result(
            inspector.ok(
                "tools/call",
                *("--tool-name", "delete_context", "--tool-arg", f"namespace={NAMESPACE}"),
                *("--tool-arg", f"name={probe}"),
            )
        )
        _expect(result.get("isError") is False, f"isError: {result['structuredContent']}")
        return f"deleted {uri}"

    steps: list[tuple[str, Callable[[], str]]] = [
        ("tools/list", tools_list),
        ("tools/call register_context", register),
        ("resources/list", resources_list),
        ("resources/templates/list", templates_list),
        ("resources/read", resources_read),
        ("resources/read missing -> -32002", read_missing),
        ("tools/call get_context missing -> isError", get_missing),
        ("no bearer token -> 401", unauthenticated),
        ("tools/call delete_context", delete),
    ]
    outcomes = []
    for name, step in steps:
        try:
            outcomes.append(Outcome("inspector", name, Verdict.PASS, step()))
        except (
            ExpectationError,
            KeyError,
            TypeError,
            ValueError,
            subprocess.TimeoutExpired,
        ) as err:
            outcomes.append(
                Outcome("inspector", name, Verdict.FAIL, f"{type(err).__name__}: {err}")
            )
    return outcomes
