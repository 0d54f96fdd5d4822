"""Production safety: refuse placeholder or short secrets and debug switches."""

from collections.abc import Iterator

from pydantic import BaseModel, SecretStr

MIN_SECRET_LENGTH = 16
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changeit",
        "secret",
        "password",
        "placeholder",
        "dev",
        "development",
        "test",
        "example",
        "default",
        "todo",
        "none",
        "null",
    }
)
# Substrings that mark a placeholder anywhere in a value. Not "example": real URLs contain it
# (db.example.com), and an exact "example" is caught by PLACEHOLDER_SECRETS.
PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "placeholder", "replace-me")
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class UnsafeForProductionError(ValueError):
    """Settings that must not reach production; `problems` names each variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def is_placeholder(value: str) -> bool:
    """True for values such as 'changeme', 'xxxxxxxx' or '<your-key-here>'."""
    folded = value.strip().lower()
    if folded in PLACEHOLDER_SECRETS or len(set(folded)) <= 1:
        return True
    if folded.startswith("<") and folded.endswith(">"):
        return True
    return any(marker in folded for marker in PLACEHOLDER_MARKERS)


def secret_fields(
    model: BaseModel, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], SecretStr]]:
    """Every SecretStr on `model` and its nested models, with its field path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield (*path, name), value
        elif isinstance(value, BaseModel):
            yield from secret_fields(value, (*path, name))


def weak_secret_reason(secret: SecretStr) -> str | None:
    """Why `secret` is unfit for production, or None; never includes the value."""
    value = secret.get_secret_value()
    if is_placeholder(value):
        return "is a placeholder secret, refused in production"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is {len(value)} characters long; production needs at least {MIN_SECRET_LENGTH}"
    return None
