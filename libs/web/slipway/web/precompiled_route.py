"""`PrecompiledRoute`: an `APIRoute` that solves a plain route's parameters from a plan made once.

FastAPI's `solve_dependencies` re-derives, on every request, what never changes for a route:
each parameter's aliases, whether its annotation is a sequence or a model, each dependency's
cache key and kind of callable. For a route with no body whose dependencies are coroutines
(a bearer scheme, an auth dependency) and whose endpoint returns a `Response`, this route
class works all of that out when the route is built, then validates each path, query, header
and cookie value with the same pydantic field, in the same order, with the same `loc`, and
raises the same `RequestValidationError`. The OpenAPI document is FastAPI's own (the route is
an `APIRoute`). Any other route, and any request while dependency overrides are set or FastAPI's
native telemetry records the request, takes FastAPI's own handler.

A dependency marked `body_only` (slipway.web's duplicate-key check) does nothing on a route
without a body, which is every route this class precompiles: the plan leaves it out, so a GET
pays nothing for it. FastAPI's own handler still runs it, unless `leave_out_body_only` (which
`create_app` applies to every route of its app, whatever the route class) has taken it out of
a bodyless route's dependant.
"""

import inspect
from collections.abc import Callable, Coroutine, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response, params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi._compat.v2 import get_missing_field_error
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _get_oauth_scopes,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import _get_param_aliases, _get_param_model
from fastapi.exceptions import RequestValidationError
from fastapi.routing import (
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    iter_route_contexts,
)
from fastapi.security import SecurityScopes
from fastapi.telemetry import get_telemetry_data
from starlette.routing import BaseRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_IMMUTABLE_DEFAULTS = (type(None), bool, int, float, str, bytes, tuple, frozenset)
_BODY_ONLY = "__slipway_body_only__"
DependencyT = TypeVar("DependencyT", bound=Callable[..., Any])


def body_only(dependency: DependencyT) -> DependencyT:
    """Mark `dependency` as one that does nothing, and returns None, on a route without a body.

    A precompiled route (never one with a body) leaves it out of its plan when it is one of
    the route's `dependencies` (unnamed); FastAPI's own handler still calls it, unless
    `leave_out_body_only` took it out of a bodyless route's dependant.
    """
    setattr(dependency, _BODY_ONLY, True)
    return dependency


def _left_out(sub: Dependant) -> bool:
    """Whether the plan of a route without a body skips this sub-dependency."""
    return sub.name is None and getattr(sub.call, _BODY_ONLY, False) is True


def leave_out_body_only(routes: Sequence[BaseRoute]) -> None:
    """Take the `body_only` dependencies out of every bodyless FastAPI route's dependant.

    What a precompiled plan does, for any route class: FastAPI's handler, which reads the
    dependant's list on every request, then no longer solves a dependency that does nothing
    there (the duplicate-key check cost a GET ~70 k instructions). Included routes are pruned
    in their effective context (what the request solves); a route counts as bodyless when
    neither it nor that context has a body. A context FastAPI rebuilds later (a route added
    to an included router) has them again: still correct, only not pruned.
    """
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.body_field is not None:
            continue
        if context.body_field is not None:  # a body parameter of an include's dependency
            continue
        dependant: Dependant = context.dependant
        kept = [sub for sub in dependant.dependencies if not _left_out(sub)]
        if len(kept) != len(dependant.dependencies):
            dependant.dependencies[:] = kept


class _NotPrecompilableError(Exception):
    """The route uses something only FastAPI's own solver handles."""


@dataclass(frozen=True, slots=True)
class _Param:
    field: ModelField
    name: str
    aliases: tuple[str, ...]
    location: str
    required: bool
    default: Any
    copy_default: bool
    validate_default: bool

    @classmethod
    def of(cls, field: ModelField) -> "_Param":
        info = field.field_info
        if not isinstance(info, params.Param) or _get_param_model(field) is not None:
            raise _NotPrecompilableError(field.name)
        if field_annotation_is_sequence(info.annotation):
            raise _NotPrecompilableError(field.name)  # lists are read with getlist
        return cls(
            field=field,
            name=field.name,
            aliases=tuple(request_key for _, request_key in _get_param_aliases(field)),
            location=info.in_.value,
            required=info.is_required(),
            default=field.default,
            copy_default=not isinstance(field.default, _IMMUTABLE_DEFAULTS),
            validate_default=bool(info.validate_default),
        )

    def solve(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        """What `request_params_to_args` does for one plain (not list, not model) parameter."""
        alias = self.aliases[0]
        if len(self.aliases) > 1:
            alias = next((key for key in self.aliases if key in received), alias)
        value = received.get(alias, None)
        loc = (self.location, alias)
        if value is None:
            if self.required:
                errors.append(get_missing_field_error(loc=loc))
                return
            value = deepcopy(self.default) if self.copy_default else self.default
            if not self.validate_default:
                values[self.name] = value
                return
        validated, field_errors = self.field.validate(value, values, loc=loc)
        if field_errors:
            errors.extend(field_errors)
        else:
            values[self.name] = validated


class _Plan:
    """How to solve one dependant: its sub-dependencies, then its own parameters."""

    def __init__(self, dependant: Dependant) -> None:
        if (
            dependant.body_params
            or dependant.websocket_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
        ):
            raise _NotPrecompilableError(dependant.name)
        self.subs: list[tuple[_Plan, Dependant, Any]] = []
        for sub in dependant.dependencies:
            if _left_out(sub):
                continue
            call = sub.call
            if (
                call is None
                or sub.concurrency is not None
                or _is_gen_callable(call)
                or _is_async_gen_callable(call)
                or not _is_coroutine_callable(call)
            ):
                raise _NotPrecompilableError(sub.name)
            self.subs.append((_Plan(sub), sub, _get_cache_key(dependant=sub)))
        self.path = [_Param.of(field) for field in dependant.path_params]
        self.query = [_Param.of(field) for field in dependant.query_params]
        self.header = [_Param.of(field) for field in dependant.header_params]
        self.cookie = [_Param.of(field) for field in dependant.cookie_params]
        self.connection_name = dependant.http_connection_param_name
        self.request_name = dependant.request_param_name
        self.scopes_name = dependant.security_scopes_param_name
        self.scopes = _get_oauth_scopes(dependant=dependant)

    async def solve(
        self, request: Request, cache: dict[Any, Any], errors: list[Any]
    ) -> dict[str, Any]:
        """The keyword arguments of this dependant's call; problems are appended to `errors`."""
        values: dict[str, Any] = {}
        for plan, sub, key in self.subs:
            sub_errors: list[Any] = []
            sub_values = await plan.solve(request, cache, sub_errors)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            if sub.use_cache and key in cache:
                solved = cache[key]
            else:
                solved = await sub.call(**sub_values)  # type: ignore[misc]
            if sub.name is not None:
                values[sub.name] = solved
            if key not in cache:
                cache[key] = solved
        # Each source gets its own `values` dict, as request_params_to_args gives it.
        for fields, source in (
            (self.path, "path"),
            (self.query, "query"),
            (self.header, "header"),
            (self.cookie, "cookie"),
        ):
            if fields:
                received = _source(request, source)
                own: dict[str, Any] = {}
                for field in fields:
                    field.solve(received, own, errors)
                values.update(own)
        if self.connection_name:
            values[self.connection_name] = request
        if self.request_name:
            values[self.request_name] = request
        if self.scopes_name:
            values[self.scopes_name] = SecurityScopes(scopes=list(self.scopes))
        return values


def _source(request: Request, source: str) -> Mapping[str, Any]:
    if source == "path":
        return request.path_params
    if source == "query":
        return request.query_params
    if source == "header":
        return request.headers
    return request.cookies


def _returns_response(call: Callable[..., Any]) -> bool:
    annotation = inspect.signature(call).return_annotation
    return isinstance(annotation, type) and issubclass(annotation, Response)


class PrecompiledRoute(APIRoute):
    """An `APIRoute` whose plain routes solve their parameters from a plan built once."""

    def get_route_handler(self) -> Handler:
        """A handler on the precompiled plan when the route allows it, else FastAPI's own."""
        standard = super().get_route_handler()
        # An included route is built per inclusion (prefix, router dependencies, overrides
        # provider), as FastAPI's own `get_route_handler` finds it.
        route: Any = self
        effective = _effective_route_context_var.get()
        if effective is not None and effective.original_route is self:
            route = effective
        dependant: Dependant | None = route.dependant
        if dependant is None:
            return standard
        call = dependant.call
        if (
            route.body_field is not None
            or call is None
            or not _is_coroutine_callable(call)
            or not _returns_response(call)
        ):
            return standard
        try:
            plan = _Plan(dependant)
        except _NotPrecompilableError:
            return standard
        overrides = route.dependency_overrides_provider
        endpoint: Callable[..., Coroutine[Any, Any, Any]] = call

        async def precompiled(request: Request) -> Response:
            if (
                overrides is not None and getattr(overrides, "dependency_overrides", None)
            ) or get_telemetry_data() is not None:
                return await standard(request)
            errors: list[Any] = []
            values = await plan.solve(request, {}, errors)
            if errors:
                context = dict(_extract_endpoint_context(call))
                mount_path = request.scope.get("root_path", "").rstrip("/")
                context["path"] = f"{request.method} {mount_path}{dependant.path}"
                raise RequestValidationError(errors, body=None, endpoint_ctx=context)  # type: ignore[arg-type]
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"{route.name} is declared to return a Response")
            return response

        return precompiled
