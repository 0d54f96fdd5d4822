"""`Idempotency-Key` for unsafe requests: reserve, run once, replay byte for byte."""

from slipway.web.idempotency.declaration import ACCEPTS_IDEMPOTENCY_KEY
from slipway.web.idempotency.fingerprint import (
    IDEMPOTENCY_KEY_PATTERN,
    is_valid_key,
    request_fingerprint,
)
from slipway.web.idempotency.memory import InMemoryIdempotencyStore
from slipway.web.idempotency.middleware import (
    IDEMPOTENCY_KEY_HEADER,
    IN_PROGRESS_TYPE,
    KEY_INVALID_TYPE,
    KEY_REUSED_TYPE,
    REPLAYED_HEADER,
    IdempotencyMiddleware,
    SubjectFunc,
    principal_or_anonymous,
    principal_subject,
)
from slipway.web.idempotency.settings import IdempotencySettings
from slipway.web.idempotency.store import (
    Claim,
    Clock,
    Completed,
    Entry,
    IdempotencyStore,
    InProgress,
    Record,
    Reserved,
    StoredResponse,
    is_expired,
    live_entry,
    may_complete,
    may_release,
)

__all__ = [
    "ACCEPTS_IDEMPOTENCY_KEY",
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_KEY_PATTERN",
    "IN_PROGRESS_TYPE",
    "KEY_INVALID_TYPE",
    "KEY_REUSED_TYPE",
    "REPLAYED_HEADER",
    "Claim",
    "Clock",
    "Completed",
    "Entry",
    "IdempotencyMiddleware",
    "IdempotencySettings",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "InProgress",
    "Record",
    "Reserved",
    "StoredResponse",
    "SubjectFunc",
    "is_expired",
    "is_valid_key",
    "live_entry",
    "may_complete",
    "may_release",
    "principal_or_anonymous",
    "principal_subject",
    "request_fingerprint",
]
