"""The README's threat model names tests; each one it names must exist.

The model is only worth what its evidence is: this reads the `## Threat model` section of
services/contexts/README.md and fails on a reference to a test file or test function that is
not there (renamed, deleted, never written).
"""

import ast
import re
from pathlib import Path

SERVICE = Path("services/contexts")
TESTS_ROOT = SERVICE / "src/contexts"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + len(heading) + 2)
    return markdown[start : end if end != -1 else None]


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, functions) and node.name.startswith("test_")
    }


def _references() -> list[tuple[str, str | None]]:
    section = _section((SERVICE / "README.md").read_text(encoding="utf-8"), "## Threat model")
    return [(match[1], match[2]) for match in REFERENCE.finditer(section)]


def test_the_threat_model_cites_tests_for_each_transport() -> None:
    cited = {path for path, _ in _references()}
    assert len(_references()) >= 20
    assert any(path.startswith("tests/api/") for path in cited)
    assert any(path.startswith("tests/mcp/") for path in cited)
    assert any("events" in path for path in cited)


def test_every_test_the_threat_model_cites_exists() -> None:
    missing = []
    for path, name in _references():
        file = TESTS_ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name is not None and name not in _defined_tests(file):
            missing.append(f"{path}::{name}")
    assert not missing, f"the threat model cites tests that do not exist: {missing}"
