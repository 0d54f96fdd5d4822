"""Domain errors as RFC 9457 problems (`application/problem+json`, via slipway.web).

Each domain error's stable `code` becomes the problem `type` `urn:contexts:problem:<code>`;
invalid input also lists its fields under `errors`, in the shape slipway.web uses for request
validation (`loc`, `pointer`, `message`, `type`).
"""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response

from contexts.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    UnknownKind,
)
from slipway.web import PrecompiledRoute, ProblemError

PROBLEM_TYPE_PREFIX = "urn:contexts:problem:"
CONFLICT_RETRY_AFTER_SECONDS = "1"

# Most specific first: InvalidBody and InvalidCursor are InvalidInput.
_STATUSES: tuple[tuple[type[DomainError], int, str], ...] = (
    (NotFound, 404, "Not Found"),
    (Forbidden, 403, "Forbidden"),
    (PreconditionFailed, 412, "Precondition Failed"),
    (Conflict, 409, "Conflict"),
    (InvalidInput, 422, "Invalid input"),
    (UnknownKind, 422, "Unknown kind"),
)


def _pointer(loc: Sequence[str | int]) -> str:
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in loc]
    return "#/" + "/".join(parts)


def _field_errors(errors: Sequence[FieldError]) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(error.loc),
            "pointer": _pointer(error.loc),
            "message": error.msg,
            "type": error.type,
        }
        for error in errors
    ]


def problem_of(error: DomainError) -> ProblemError:
    """The problem a domain error is answered with."""
    status, title = 500, "Internal Server Error"
    for error_type, mapped_status, mapped_title in _STATUSES:
        if isinstance(error, error_type):
            status, title = mapped_status, mapped_title
            break
    extensions: dict[str, Any] = {"code": error.code}
    if isinstance(error, InvalidInput):
        extensions["errors"] = _field_errors(error.errors)
    # A conflict is what is left after the service's own bounded retries: worth retrying soon.
    headers = {"Retry-After": CONFLICT_RETRY_AFTER_SECONDS} if isinstance(error, Conflict) else None
    return ProblemError(
        status,
        error.detail,
        title=title,
        type=PROBLEM_TYPE_PREFIX + error.code,
        extensions=extensions,
        headers=headers,
    )


class DomainErrorRoute(PrecompiledRoute):
    """A route whose `DomainError`s become problems, answered by slipway.web's handler.

    A `PrecompiledRoute`: the reads' parameters and auth dependency are solved from a plan
    built once rather than by FastAPI's per-request dependency solving.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, translating domain errors."""
        handler = super().get_route_handler()

        async def translating(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as error:
                raise problem_of(error) from error

        return translating
