"""Domain errors, each with a stable machine `code` the transport maps to a problem type."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: where it is (`loc`), what is wrong (`msg`), and the error `type`."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


def field_errors(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    """The field errors of a pydantic `ValidationError`, each location prefixed by `prefix`."""
    return [
        FieldError(loc=(*prefix, *detail["loc"]), msg=detail["msg"], type=detail["type"])
        for detail in error.errors(include_url=False)
    ]


# The subclasses are named for the outcome they stand for (as slipway.http's UpstreamTimeout is),
# hence the N818 exemptions.
class DomainError(Exception):
    """Base of every error a use-case raises on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):  # noqa: N818
    """No such context, or one the caller may not read (existence is not revealed)."""

    code = "not_found"


class Forbidden(DomainError):  # noqa: N818
    """The caller lacks a scope, or may read the context but not do this to it."""

    code = "forbidden"


class PreconditionFailed(DomainError):  # noqa: N818
    """`If-Match` or `If-None-Match` did not hold against the current representation."""

    code = "precondition_failed"


class Conflict(DomainError):  # noqa: N818
    """A concurrent change got there first (the version was already taken)."""

    code = "conflict"


class InvalidInput(DomainError):  # noqa: N818
    """A request value is malformed; `errors` lists each offending field."""

    code = "invalid_input"

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.errors = tuple(errors)


class InvalidBody(InvalidInput):
    """A context body does not match its kind's schema; `errors` lists each field."""

    code = "invalid_body"


class InvalidCursor(InvalidInput):
    """A pagination cursor was not issued for this query, or is not a cursor at all."""

    code = "invalid_cursor"


class UnknownKind(DomainError):  # noqa: N818
    """The kind, or that schema version of it, is not registered."""

    code = "unknown_kind"
