"""What the /v1 routes accept of path, query and header values, exactly as the OpenAPI says.

- `DecimalInt[...]`: an integer parameter written in plain decimal (`7`, never `7.0`, `+7`,
  `07`, ` 7` or `7e0`, which pydantic's lax parsing of a string would read as 7);
- `ENTITY_TAGS_PATTERN`: `If-Match` / `If-None-Match`, `*` or a list of entity-tags (RFC 9110,
  13.1.1: visible ASCII inside the quotes); an empty or malformed list is refused (422)
  whether or not the context exists;
- `CURSOR_PATTERN`: a listing cursor is URL-safe base64 (`contexts.domain.cursor`).
"""

import re
from typing import Annotated, TypeVar

from pydantic import BeforeValidator

DECIMAL = re.compile(r"0|[1-9][0-9]*")
_ENTITY_TAG = r'(W/)?"[!#-~]*"'
ENTITY_TAGS_PATTERN = rf"^[ \t]*(\*|{_ENTITY_TAG}([ \t]*,[ \t]*{_ENTITY_TAG})*)[ \t]*$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def plain_decimal(value: object) -> object:
    """`value`, refused (ValueError) if it is a string that is not a plain decimal integer."""
    if isinstance(value, str) and not DECIMAL.fullmatch(value):
        raise ValueError(
            "must be an integer in plain decimal: no sign, point, exponent, leading zero or space"
        )
    return value


T = TypeVar("T")
DecimalInt = Annotated[T, BeforeValidator(plain_decimal)]
