"""The domain imports only the standard library, pydantic and itself."""

import ast
import sys
from pathlib import Path

import pytest

import contexts.domain

# Every domain module is in the test's sandbox: its BUILD target depends on the whole package.
DOMAIN = Path(contexts.domain.__file__).parent
SOURCES = sorted(DOMAIN.glob("*.py"))
# Time, randomness and I/O come in through ports (Clock, injected id factories), not imports.
IMPURE_STDLIB = {"asyncio", "http", "io", "os", "pathlib", "random", "socket", "sqlite3", "time"}
ALLOWED_ROOTS = ({*sys.stdlib_module_names} - IMPURE_STDLIB) | {"pydantic", "contexts"}


def imported_modules(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
    return names


def test_every_domain_module_is_checked() -> None:
    assert {"model.py", "service.py", "ports.py", "policy.py"} <= {path.name for path in SOURCES}


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_domain_module_imports_only_stdlib_pydantic_and_the_domain(source: Path) -> None:
    outside = {
        name
        for name in imported_modules(source)
        if name.split(".")[0] not in ALLOWED_ROOTS
        or (name.startswith("contexts.") and not name.startswith("contexts.domain"))
    }

    assert not outside
