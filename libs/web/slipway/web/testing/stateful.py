"""Stateful fuzzing: schemathesis' state machine follows an app's OpenAPI links, every check on.

A stateless fuzz sends each operation on its own, so a `PUT` creates a resource that no later
request ever reads, patches or deletes. The state machine chains operations through the links
of the OpenAPI document (`$response.body#/name` and the like): create, then read, patch, list
and delete what was created, many times over, with every schemathesis check on each answer.

`run_stateful` does not stop at the first failure: it records every failed check with the
request that caused it, and fails at the end on those no `AllowedFailure` covers, each shown
once with an example. Its `StatefulReport` counts the answers per operation, so a test can
prove the run really did create and delete things::

    report = run_stateful(fuzz_schema(app), headers=token, allowed=ALLOWED_FAILURES)
    assert report.successes("PUT /v1/items/{id}") >= 50

Repeatable inputs: fixed seeds, no example database, no shrinking; bounded by the
number of scenarios and steps and by `budget_seconds` of wall clock.
"""

import fnmatch
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis  # pants: no-infer-dep - installed by schemathesis
import schemathesis
from hypothesis import strategies as st  # pants: no-infer-dep - installed by schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import BaseSchema


@dataclass(frozen=True)
class AllowedFailure:
    """A failure the run tolerates, and why: the lead removes it once `pending` is fixed.

    It covers a failed check named `check` (or whose failure class is `check`) on an operation
    matching `operation` (`"PUT /v1/items/{id}"`, glob patterns allowed), optionally only for
    answers with `status`, failures whose title, message or answer body contains `contains`,
    and those `when` accepts.
    """

    check: str
    reason: str
    operation: str = "*"
    status: int | None = None
    contains: str = ""
    when: Callable[["FoundFailure"], bool] | None = None
    pending: str | None = None

    def covers(self, found: "FoundFailure") -> bool:
        return (
            (self.check == found.kind or self.check in found.checks)
            and fnmatch.fnmatchcase(found.operation, self.operation)
            and (self.status is None or self.status == found.status)
            and any(self.contains in text for text in (found.title, found.message, found.answer))
            and (self.when is None or self.when(found))
        )


@dataclass(frozen=True)
class FoundFailure:
    """One failed check: which, on what operation and answer, and a curl command that repeats it."""

    operation: str
    kind: str
    checks: tuple[str, ...]
    status: int
    title: str
    message: str
    answer: str
    example: str
    path_parameters: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None

    @property
    def problem(self) -> str:
        """The answer's problem type (RFC 9457), or "" when it is not a problem."""
        try:
            document = json.loads(self.answer)
        except ValueError:
            return ""
        return str(document.get("type", "")) if isinstance(document, dict) else ""

    def describe(self) -> str:
        checks = ", ".join(self.checks)
        return (
            f"{self.operation} -> {self.status} {self.problem}: {self.kind} ({checks}): "
            f"{self.title}\n  {self.message.strip()[:400]}\n  answer: {self.answer[:400]}"
            f"\n  example: {self.example[:600]}"
        )


@dataclass
class StatefulReport:
    """What a run sent and found: answers per operation and status, every failure."""

    calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    # Problem types (RFC 9457 `type`) of the 4xx answers, per operation and status.
    problems: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    # One example per operation, failure, status, problem type and allowance (None: unexpected).
    failures: dict[tuple[str, str, int, str, int | None], FoundFailure] = field(
        default_factory=dict
    )
    allowed: tuple[AllowedFailure, ...] = ()
    scenarios: int = 0
    suites: int = 0
    restarts: int = 0
    budget_exhausted: bool = False
    seconds: float = 0.0

    def answers(self, operation: str, statuses: Iterable[int] = range(100, 600)) -> int:
        """How many requests to `operation` (e.g. `"PUT /v1/items/{id}"`) got one of `statuses`."""
        wanted = set(statuses)
        return sum(
            n for (op, status), n in self.calls.items() if op == operation and status in wanted
        )

    def successes(self, operation: str) -> int:
        """How many requests to `operation` got a 2xx answer."""
        return self.answers(operation, range(200, 300))

    def allowance(self, found: FoundFailure) -> AllowedFailure | None:
        """The first allowance covering `found`."""
        return next((allowed for allowed in self.allowed if allowed.covers(found)), None)

    def record(self, found: FoundFailure) -> None:
        """Keep `found` unless an example of the same failure, status and allowance is kept."""
        allowance = self.allowance(found)
        index = None if allowance is None else self.allowed.index(allowance)
        key = (found.operation, found.kind, found.status, found.problem, index)
        self.failures.setdefault(key, found)

    @property
    def unexpected(self) -> list[FoundFailure]:
        """The failures no `AllowedFailure` covers."""
        return [f for f in self.failures.values() if not any(a.covers(f) for a in self.allowed)]

    @property
    def unused_allowances(self) -> list[AllowedFailure]:
        """Allowances no failure of this run needed (fixed since, or not reached this time)."""
        found = list(self.failures.values())
        return [a for a in self.allowed if not any(a.covers(f) for f in found)]

    def summary(self) -> str:
        by_operation: dict[str, Counter[int]] = {}
        for (operation, status), n in sorted(self.calls.items()):
            by_operation.setdefault(operation, Counter())[status] += n
        lines = [
            f"{self.scenarios} scenarios in {self.suites} suites ({self.restarts} restarted)"
            f" in {self.seconds:.1f} s"
            + (" (stopped by the time budget)" if self.budget_exhausted else "")
        ]
        for operation, statuses in by_operation.items():
            shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
            lines.append(f"  {operation}: {shown}")
            for (op, status, problem), n in sorted(self.problems.items()):
                if op == operation:
                    lines.append(f"    {status} {problem or '(no problem type)'}: {n}")
        for found in self.failures.values():
            covered = self.allowance(found)
            mark = f"allowed ({covered.reason})" if covered else "UNEXPECTED"
            lines.append(f"  [{mark}] {found.describe()}")
        for unused in self.unused_allowances:
            lines.append(f"  [unused allowance] {unused.check}: {unused.reason}")
        return "\n".join(lines)


class BudgetExhaustedError(Exception):
    """The run's wall-clock budget is spent: no new scenario starts."""


def all_check_names() -> list[str]:
    """Every check schemathesis has, by name."""
    load_all_checks()
    return [getattr(check, "__name__", repr(check)) for check in CHECKS.get_all()]


def _problem_type(response: schemathesis.Response) -> str:
    try:
        document = json.loads(response.content)
    except ValueError:
        return ""
    return str(document.get("type", "")) if isinstance(document, dict) else ""


def _found(
    failure: Failure,
    case: schemathesis.Case[Any],
    response: schemathesis.Response,
    headers: Mapping[str, str],
) -> FoundFailure:
    try:
        example = case.as_curl_command(headers=dict(headers))
    except Exception:  # a report must not hide the failure it reports
        example = f"{case.method} {case.formatted_path}"
    return FoundFailure(
        operation=case.operation.label,
        kind=type(failure).__name__,
        checks=tuple(type(failure).checks),
        status=response.status_code,
        title=failure.title,
        message=failure.message,
        answer=response.text[:2000] if isinstance(response.text, str) else "",
        example=example,
        path_parameters=dict(case.path_parameters or {}),
        body=case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None,
    )


def steer(
    schema: BaseSchema,
    operation: str,
    change: Callable[[schemathesis.Case[Any]], None],
    *,
    percent: int = 75,
) -> None:
    """Pass about `percent` % of the positive cases of `operation` through `change`, an edit.

    For what the document cannot say: e.g. a body whose schema depends on another field, so
    that enough generated requests succeed for the links to lead somewhere. Assign whole
    containers (`case.body = ...`, `case.headers = ...`): schemathesis then checks again
    whether the case is still positive.
    """

    def flatmap_case(context: Any, case: schemathesis.Case[Any]) -> st.SearchStrategy[Any]:
        meta = case.meta
        if (
            context.operation is None
            or context.operation.label != operation
            or meta is None
            or meta.generation.mode != GenerationMode.POSITIVE
        ):
            return st.just(case)

        def steered(draw: int) -> schemathesis.Case[Any]:
            if draw < percent:
                change(case)
            return case

        return st.integers(0, 99).map(steered)

    schema.hooks.register_hook_with_name(flatmap_case, "flatmap_case")


def run_stateful(
    schema: BaseSchema,
    *,
    headers: Mapping[str, str] | None = None,
    allowed: Iterable[AllowedFailure] = (),
    scenarios: int = 60,
    steps: int = 12,
    budget_seconds: float = 75.0,
    seed: int = 0,
    max_suites: int = 50,
    observe: Callable[[schemathesis.Case[Any], schemathesis.Response], None] | None = None,
    until: Callable[["StatefulReport"], bool] | None = None,
) -> StatefulReport:
    """Run `schema`'s state machine (every check on) and report; never raises on a failed check.

    `headers` (e.g. a bearer token) go with every request. At most `scenarios` scenarios of at
    most `steps` calls each, in suites seeded `seed`, `seed + 1`... (at most `max_suites`);
    no scenario starts after `budget_seconds`. `observe` sees every request and its answer
    (before the checks), e.g. to remember what an allowance's `when` needs. The app's lifespan,
    which schemathesis starts on its first request, is stopped before returning, so the
    resources it used (a throwaway database) can go.

    `until`: once `scenarios` ran, more suites (a quarter of `scenarios` each) run while it
    says the report is not enough yet (e.g. too few successful calls of an operation,
    which a restarted suite's path can leave), still within `max_suites` and the budget.
    """
    report = StatefulReport(allowed=tuple(allowed))
    sent = dict(headers or {})
    started = time.monotonic()
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            if time.monotonic() - started > budget_seconds:
                report.budget_exhausted = True
                raise BudgetExhaustedError
            report.scenarios += 1
            super().__init__()

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"headers": sent}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
            super().after_call(response, case)
            report.calls[(case.operation.label, response.status_code)] += 1
            if 400 <= response.status_code < 500:
                problem = _problem_type(response)
                report.problems[(case.operation.label, response.status_code, problem)] += 1
            if observe is not None:
                observe(case, response)

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            try:
                super().validate_response(response, case, additional_checks, **kwargs)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.record(_found(failure, case, response, sent))
            except Failure as failure:
                report.record(_found(failure, case, response, sent))

    suites = 0
    try:
        # A state machine on a live server is not replayable: once the server's state makes a
        # replayed choice go another way, Hypothesis gives up ("Flaky"). Like schemathesis' own
        # runner, start another suite then, on the next seed, until enough scenarios ran.
        def wanted() -> int:
            if report.scenarios < scenarios:
                return scenarios - report.scenarios
            return 0 if until is None or until(report) else max(1, scenarios // 4)

        while suites < max_suites and (examples := wanted()) > 0:
            settings = hypothesis.settings(
                max_examples=examples,
                stateful_step_count=steps,
                database=None,
                deadline=None,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            suite = hypothesis.seed(seed + suites)(Machine)
            suites += 1
            try:
                suite.run(settings=settings)
            except (hypothesis.errors.Flaky, AssertionError) as exc:
                if not isinstance(exc, hypothesis.errors.Flaky) and not is_inconsistent_replay(exc):
                    raise
                report.restarts += 1
    except BudgetExhaustedError:
        pass
    finally:
        report.suites = suites
        report.seconds = time.monotonic() - started
        shutdown_lifespans()
    return report


def assert_no_unexpected_failures(report: StatefulReport) -> None:
    """Fail listing every failure no allowance covers, one example each, with the run's summary."""
    __tracebackhide__ = True
    unexpected = report.unexpected
    if unexpected:
        listed = "\n".join(found.describe() for found in unexpected)
        raise AssertionError(
            f"{len(unexpected)} unexpected failure(s) in the stateful run:\n{listed}\n\n"
            f"{report.summary()}"
        )
