"""Domain errors become problems with the status, type and headers the contract documents."""

from contexts.api.errors import problem_of
from contexts.domain.errors import Conflict, NotFound


def test_a_conflict_left_after_the_services_retries_says_when_to_retry() -> None:
    problem = problem_of(Conflict("version 3 of team-a/x is taken"))
    assert problem.status == 409
    assert problem.headers == {"Retry-After": "1"}


def test_other_domain_errors_carry_no_retry_after() -> None:
    assert "Retry-After" not in problem_of(NotFound("context team-a/x not found")).headers
