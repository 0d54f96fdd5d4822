"""Idempotency keys: a stored response is replayed only for the very request that made it."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from contexts.domain.errors import IdempotencyKeyReused

IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,255}$")]


class StoredResponse(BaseModel):
    """The response first given to a request under an idempotency key, until it expires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_hash: str
    status: int
    headers: dict[str, str]
    body: str
    expires_at: AwareDatetime


def response_to_replay(
    stored: StoredResponse | None, request_hash: str, now: datetime
) -> StoredResponse | None:
    """`stored` unless absent or expired; raises `IdempotencyKeyReused` for another request."""
    if stored is None or stored.expires_at <= now:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused("this idempotency key was used for a different request")
    return stored
