"""The exact SQL the contexts service runs per request, and EXPLAIN (ANALYZE, BUFFERS) of each.

Capture goes through PostgreSQL itself, so it sees whatever the adapters send (ORM, Core or
raw asyncpg alike): `ALTER DATABASE ... SET log_min_duration_statement = 0` for the bench
database only, a short-lived second instance of the service (its new connections pick the
setting up; the measured instance's pool opened before it and logs nothing), one request at
a time, and the server log read from where it stood before each request, keeping the
`execute` entries of this database (the log line prefix carries `user@database`) with their
`parameters:` details. The setting is reset afterwards.

Each captured statement is then explained with its logged parameters substituted (the log
prints them as quoted SQL literals): `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that
is rolled back, except INSERTs (their rows, e.g. the version the captured request appended,
exist now: a second insert would fail on its key), which get a plain `EXPLAIN`.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE_TABLES = (
    "context_versions",
    "contexts_current",
    "context_labels",
    "audit_log",
    "slipway_outbox",
    "slipway_idempotency",
)
DEFAULT_LOG_GLOB = "/var/log/postgresql/postgresql-*-main.log"

_ENTRY_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_EXECUTE = re.compile(r"\bLOG:\s+duration: ([\d.]+) ms\s+execute [^:]*: (.*)", re.S)
_STATEMENT = re.compile(r"\bLOG:\s+duration: ([\d.]+) ms\s+statement: (.*)", re.S)
_PARAMETERS = re.compile(r"\bDETAIL:\s+[Pp]arameters: (.*)", re.S)
_PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")
_PLACEHOLDER = re.compile(r"\$(\d+)\b")


@dataclass
class Statement:
    """One statement as the service sent it, its parameters as SQL literals, its duration."""

    sql: str
    parameters: dict[int, str] = field(default_factory=dict)
    duration_ms: float = 0.0

    def with_literals(self) -> str:
        """The SQL with each `$n` replaced by its logged literal."""
        return _PLACEHOLDER.sub(
            lambda m: self.parameters.get(int(m.group(1)), m.group(0)), self.sql
        )

    @property
    def is_insert(self) -> bool:
        """Whether it is an INSERT (explained without ANALYZE)."""
        return self.sql.lstrip().upper().startswith("INSERT")


def _entries(text: str) -> Iterable[str]:
    """Log entries: a line with a timestamp and the tab-indented lines continuing it."""
    current: list[str] = []
    for line in text.splitlines():
        if _ENTRY_START.match(line) and current:
            yield "\n".join(current)
            current = []
        current.append(line)
    if current:
        yield "\n".join(current)


def parse_log(text: str, database: str) -> list[Statement]:
    """The statements `database`'s sessions executed, touching a service table, in order."""
    marker = f"@{database} "
    found: list[Statement] = []
    pending: Statement | None = None
    for entry in _entries(text):
        if marker not in entry:
            continue
        if (match := _EXECUTE.search(entry)) or (match := _STATEMENT.search(entry)):
            sql = match.group(2).replace("\n\t", "\n").strip()
            pending = Statement(sql=sql, duration_ms=float(match.group(1)))
            if any(table in sql for table in SERVICE_TABLES):
                found.append(pending)
            else:
                pending = None
        elif " LOG: " in entry:
            pending = None  # a parse or bind entry: its parameters are not the execute's
        elif pending is not None and (details := _PARAMETERS.search(entry)):
            pending.parameters = {
                int(n): value for n, value in _PARAMETER.findall(details.group(1))
            }
            pending = None
    return found


def default_log_path() -> Path | None:
    """The Debian/Ubuntu cluster log, when there is exactly one readable."""
    candidates = [p for p in Path("/").glob(DEFAULT_LOG_GLOB.lstrip("/")) if p.is_file()]
    return candidates[0] if len(candidates) == 1 else None


class LogWindow:
    """What the server log gained since the window was opened (or last read)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size

    def read(self) -> str:
        """The text appended since the previous read."""
        with self._path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        return data.decode("utf-8", errors="replace")


def _summary(plan: Sequence[str]) -> dict[str, Any]:
    """What a reader checks first: sequential scans, sorts, rows read, shared buffers."""
    text = "\n".join(plan)
    rows = [int(n) for n in re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", text)]
    hits = re.search(r"Buffers: shared (?:hit=(\d+))?\s*(?:read=(\d+))?", text)
    return {
        "seq_scan": "Seq Scan" in text,
        "sort": bool(re.search(r"\bSort\b", text)),
        "index_only": "Index Only Scan" in text,
        "max_rows_per_node": max(rows, default=0),
        "shared_hit": int(hits.group(1) or 0) if hits else 0,
        "shared_read": int(hits.group(2) or 0) if hits else 0,
    }


async def explain(connection: Any, statement: Statement) -> dict[str, Any]:
    """The plan of `statement` with its parameters, in a transaction rolled back."""
    options = "" if statement.is_insert else "(ANALYZE, BUFFERS) "
    sql = statement.with_literals()
    transaction = connection.transaction()
    await transaction.start()
    try:
        rows = await connection.fetch(f"EXPLAIN {options}{sql}")
        plan = [row[0] for row in rows]
        error = None
    except Exception as exc:
        plan, error = [], f"{type(exc).__name__}: {exc}"
    finally:
        await transaction.rollback()
    return {
        "sql": statement.sql,
        "parameters": {f"${n}": v for n, v in sorted(statement.parameters.items())},
        "logged_duration_ms": statement.duration_ms,
        "explain": f"EXPLAIN {options}".strip(),
        "plan": plan,
        "error": error,
        "summary": _summary(plan),
    }


def distinct(statements: Iterable[Statement]) -> list[Statement]:
    """One statement per SQL text (its last execution: prepared and cached by then)."""
    latest: dict[str, Statement] = {}
    for statement in statements:
        latest.pop(statement.sql, None)
        latest[statement.sql] = statement
    return list(latest.values())


def _short(value: str, limit: int = 160) -> str:
    return value if len(value) <= limit else value[:limit] + " ..."


def markdown(explained: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """The plans as markdown: per size, per operation, each statement with its plan."""
    lines = ["# contexts at scale: the hot queries and their plans", ""]
    for size, operations in explained.items():
        lines += [f"## {size}", ""]
        for operation, plans in operations.items():
            lines += [f"### {operation}", ""]
            for item in plans:
                flags = item["summary"]
                lines += [
                    "```sql",
                    "\n".join(line.rstrip() for line in item["sql"].splitlines()),
                    "```",
                    "",
                    "parameters: "
                    + (
                        ", ".join(f"{k} = {_short(v)}" for k, v in item["parameters"].items())
                        or "none"
                    ),
                    "",
                    f"{item['explain']}: seq scan {flags['seq_scan']}, sort {flags['sort']},"
                    f" index-only {flags['index_only']}, max rows per node"
                    f" {flags['max_rows_per_node']}",
                    "",
                    "```",
                    *(item["plan"] or [f"(failed: {item['error']})"]),
                    "```",
                    "",
                ]
    return "\n".join(lines)
