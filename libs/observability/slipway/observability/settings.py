"""Observability settings a service nests in its ServiceSettings."""

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ObservabilitySettings(BaseModel):
    """Trace export, sampling and metrics path; env e.g. `BILLING_OBSERVABILITY__OTLP_ENDPOINT`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL; a bare base URL gets /v1/traces. Unset: no export.",
        examples=["http://otel-collector:4318"],
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Fraction of new traces sampled; a sampled parent is always followed.",
    )
    metrics_path: str = Field(default="/metrics", pattern=r"^/[^\s]*$")

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url_or_unset(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value
