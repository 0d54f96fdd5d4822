"""RFC 9457 problem details for every error, and the `ProblemError` services raise."""

import email.message
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.logging import current_request_id
from slipway.web.responses import ProblemResponse

logger = logging.getLogger("slipway.web")

VALIDATION_TYPE = "urn:slipway:problem:validation-error"


class ProblemError(Exception):
    """Raise from a route to answer with a problem document of the given status."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",  # the RFC 9457 member name
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.type = type
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        super().__init__(detail or self.title)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(
    scope: Scope,
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    type: str = "about:blank",  # the RFC 9457 member name
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem document for a request: RFC 9457 members plus `request_id`."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail if detail is not None else _phrase(status),
        "instance": scope.get("root_path", "") + scope.get("path", ""),
        "request_id": current_request_id(),
    }
    body.update(extensions or {})
    return body


def problem_response(
    scope: Scope,
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    type: str = "about:blank",  # the RFC 9457 member name
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    """An `application/problem+json` response for `scope`."""
    body = problem_body(scope, status, detail=detail, title=title, type=type, extensions=extensions)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


async def _problem_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)  # noqa: S101 - registered for ProblemError only
    return problem_response(
        request.scope,
        exc.status,
        detail=exc.detail,
        title=exc.title,
        type=exc.type,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        request.scope, exc.status_code, detail=detail, headers=exc.headers or {}
    )


def _pointer(loc: Sequence[int | str]) -> str:
    """A JSON pointer (RFC 6901) into the request body, or the parameter location."""
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in loc]
    return "#/" + "/".join(parts) if parts[:1] == ["body"] else "/".join(parts)


def expects_json_body(request: Request) -> bool:
    """Whether the request's route takes a body that is not a form (so JSON)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return not isinstance(route.body_field.field_info, Form)


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON: `application/json` or `application/*+json`."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


_VALUE_ERROR_PREFIX = "Value error, "


def _message(error: Mapping[str, Any]) -> str:
    """The error's message; a validator's ValueError without pydantic's "Value error, "."""
    message = str(error.get("msg", ""))
    if error.get("type") == "value_error" and message.startswith(_VALUE_ERROR_PREFIX):
        return message[len(_VALUE_ERROR_PREFIX) :]
    return message


async def _validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    raw = list(exc.errors())
    body_errors = any(tuple(error.get("loc", ()))[:1] == ("body",) for error in raw)
    if body_errors and expects_json_body(request):
        content_type = request.headers.get("content-type")
        if not is_json(content_type):
            return problem_response(
                request.scope,
                415,
                detail=f"expected an application/json body, got {content_type or 'none'}",
            )
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "pointer": _pointer(tuple(error.get("loc", ()))),
            "message": _message(error),
            "type": str(error.get("type", "")),
        }
        for error in raw
    ]
    return problem_response(
        request.scope,
        422,
        title="Request validation failed",
        detail=f"{len(errors)} invalid field(s)",
        type=VALIDATION_TYPE,
        extensions={"errors": errors},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, validation errors and `ProblemError` with problem documents."""
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)


class UnhandledErrorMiddleware:
    """Turn an unhandled exception into a 500 problem with the request id, never a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; log and answer 500 if it raises before responding."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log_unhandled_error(scope)
            if started:
                raise
            await unhandled_error_response(scope)(scope, receive, send)


def log_unhandled_error(scope: Scope) -> None:
    """Log the exception being handled, with the request's method and path."""
    logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))


def unhandled_error_response(scope: Scope) -> ProblemResponse:
    """The 500 problem an unhandled exception is answered with (no traceback)."""
    return problem_response(
        scope, 500, detail="An unexpected error occurred; quote the request_id."
    )
