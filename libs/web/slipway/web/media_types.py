"""`accepts`: a route's request media types, enforced (415) and documented in OpenAPI.

Usage, on a route whose body is a JSON Merge Patch (RFC 7396) also accepted as plain JSON::

    from slipway.web import accepts

    MERGE_PATCH = "application/merge-patch+json"


    @router.patch("/items/{id}", dependencies=[accepts(MERGE_PATCH, "application/json")])
    async def patch_item(patch: Annotated[ItemPatch, Body(media_type=MERGE_PATCH)]) -> ...: ...

A request whose Content-Type (parameters ignored, case-insensitive) is none of them is
refused before the route runs: 415 `application/problem+json` whose `detail` and `accepted`
member list the types, with `Accept-Patch` (RFC 5789) on PATCH and `Accept-Post` on POST. The
OpenAPI document `create_app` serves lists each type under the operation's `requestBody`
(with the body's schema) and documents the 415. The types must be JSON (`application/json`
or `+json`) for FastAPI to decode the body.
"""

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from slipway.web.problems import ProblemError

UNSUPPORTED_MEDIA_TYPE = "urn:slipway:problem:unsupported-media-type"
ACCEPT_HEADERS = {"PATCH": "Accept-Patch", "POST": "Accept-Post"}


def media_type_essence(content_type: str | None) -> str:
    """`type/subtype` of a Content-Type, lower case, without parameters ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class MediaTypeGuard:
    """The dependency `accepts` returns: refuses other request media types with 415."""

    def __init__(self, *media_types: str) -> None:
        if not media_types:
            raise ValueError("accepts() needs at least one media type")
        self.media_types = tuple(media_type_essence(media_type) for media_type in media_types)
        self._accepted = frozenset(self.media_types)
        self._listed = ", ".join(self.media_types)

    def __repr__(self) -> str:
        return f"accepts({self._listed})"

    async def __call__(self, request: Request) -> None:
        """Pass when the Content-Type is accepted; raise the 415 problem otherwise."""
        given = media_type_essence(request.headers.get("content-type"))
        if given in self._accepted:
            return
        header = ACCEPT_HEADERS.get(request.method)
        raise ProblemError(
            415,
            f"expected {self._listed}, got {given or 'no Content-Type'}",
            type=UNSUPPORTED_MEDIA_TYPE,
            headers={header: self._listed} if header else None,
            extensions={"accepted": list(self.media_types)},
        )


def accepts(*media_types: str) -> DependsParam:
    """A route dependency accepting request bodies of `media_types` only (see the module)."""
    dependency: DependsParam = Depends(MediaTypeGuard(*media_types))
    return dependency
