"""The one set of auth problems (RFC 9457) and their `WWW-Authenticate` challenges (RFC 6750).

Every transport (route dependency, SSE hook, ASGI gate) answers with exactly these: one type,
one title and one status per failure, so clients can branch on `type`.
"""

from collections.abc import Sequence

from slipway.auth.verification import InvalidTokenError
from slipway.web import ProblemError

MISSING_TOKEN_TYPE = "urn:slipway:problem:missing-token"  # noqa: S105 - a URN, not a secret
INVALID_TOKEN_TYPE = "urn:slipway:problem:invalid-token"  # noqa: S105 - a URN, not a secret
INSUFFICIENT_SCOPE_TYPE = "urn:slipway:problem:insufficient-scope"

MISSING_TOKEN_TITLE = "Authentication required"  # noqa: S105 - a title, not a secret
INVALID_TOKEN_TITLE = "Invalid token"  # noqa: S105 - a title, not a secret
INSUFFICIENT_SCOPE_TITLE = "Insufficient scope"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(resource_metadata_url: str | None = None, **params: str) -> dict[str, str]:
    """A `WWW-Authenticate: Bearer ...` header; RFC 9728 `resource_metadata` last when given.

    Empty parameters (e.g. `scope=""` for a route needing no scope) are left out.
    """
    if resource_metadata_url is not None:
        params["resource_metadata"] = resource_metadata_url
    rendered = ", ".join(f"{name}={_quoted(value)}" for name, value in params.items() if value)
    return {"WWW-Authenticate": f"Bearer {rendered}" if rendered else "Bearer"}


def missing_token(
    resource_metadata_url: str | None = None, scope: Sequence[str] = ()
) -> ProblemError:
    """401: no bearer token; the challenge carries no error code (RFC 6750 section 3.1), but
    the `scope` to ask for and where the resource metadata is (RFC 9728 section 5.1)."""
    return ProblemError(
        401,
        "a bearer token is required",
        title=MISSING_TOKEN_TITLE,
        type=MISSING_TOKEN_TYPE,
        headers=challenge(resource_metadata_url, scope=" ".join(scope)),
    )


def invalid_token(
    error: InvalidTokenError,
    resource_metadata_url: str | None = None,
    scope: Sequence[str] = (),
) -> ProblemError:
    """401 `invalid_token`: the token was refused, for a reason safe to tell the client."""
    return ProblemError(
        401,
        error.description,
        title=INVALID_TOKEN_TITLE,
        type=INVALID_TOKEN_TYPE,
        headers=challenge(
            resource_metadata_url,
            error="invalid_token",
            error_description=error.description,
            scope=" ".join(scope),
        ),
    )


def challenge_scope(required: Sequence[str], *, any_of: bool = False) -> tuple[str, ...]:
    """The scopes a challenge asks for: all of `required`, or with `any_of` the first."""
    return tuple(required[:1]) if any_of else tuple(required)


def insufficient_scope(
    required: Sequence[str],
    missing: Sequence[str],
    *,
    any_of: bool = False,
    resource_metadata_url: str | None = None,
    scope: Sequence[str] | None = None,
) -> ProblemError:
    """403 `insufficient_scope`, listing `required_scopes` and `missing_scopes`.

    The challenge's `scope` is `scope` when given, else `challenge_scope(required, any_of)`:
    with `any_of`, one of `required` would do, so it names the first (the one a client
    should ask for); the problem lists them all.
    """
    if any_of:
        detail = f"the token lacks one of the scope(s): {' '.join(required)}"
    else:
        detail = f"the token lacks the scope(s): {' '.join(missing)}"
    asked = challenge_scope(required, any_of=any_of) if scope is None else tuple(scope)
    return ProblemError(
        403,
        detail,
        title=INSUFFICIENT_SCOPE_TITLE,
        type=INSUFFICIENT_SCOPE_TYPE,
        headers=challenge(
            resource_metadata_url,
            error="insufficient_scope",
            error_description="the token lacks a required scope",
            scope=" ".join(asked),
        ),
        extensions={"required_scopes": list(required), "missing_scopes": list(missing)},
    )
