"""Redis settings: the URL (a secret), pool size, timeouts and the key prefix."""

from pydantic import BaseModel, Field, SecretStr


class RedisSettings(BaseModel):
    """How a service reaches Redis; nest it as `redis: RedisSettings`.

    `url` is a `SecretStr` (`redis://:<password>@host:6379/0`, `rediss://` for TLS): the
    password never shows in `repr()`, logs or the printed settings.
    """

    url: SecretStr = Field(
        default=SecretStr("redis://127.0.0.1:6379/0"),
        examples=["redis://:s3cret@redis:6379/0"],
    )
    max_connections: int = Field(default=50, ge=1)
    pool_timeout_seconds: float = Field(
        default=2.0, gt=0, description="How long a command waits for a free pooled connection"
    )
    socket_timeout_seconds: float = Field(default=1.0, gt=0)
    socket_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    health_check_interval_seconds: int = Field(
        default=30, ge=0, description="PING idle connections before reuse; 0 never does"
    )
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)
    key_prefix: str = Field(default="", description="Prepended to every key, e.g. `billing:`")
