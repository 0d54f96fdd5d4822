"""JSON responses rendered with orjson (FastAPI deprecated its own ORJSONResponse)."""

from typing import Any

import orjson
from fastapi.responses import JSONResponse

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class ORJSONResponse(JSONResponse):
    """`application/json` rendered by orjson; the app's default response class."""

    def render(self, content: Any) -> bytes:
        """Serialize `content` with orjson."""
        return orjson.dumps(content, option=_OPTIONS)


class ProblemResponse(ORJSONResponse):
    """An RFC 9457 problem document, `application/problem+json`."""

    media_type = "application/problem+json"
