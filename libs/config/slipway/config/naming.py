"""The environment variable behind a settings field, nested fields included."""

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings


def env_var_name(settings_cls: type[BaseSettings], field: str, *nested: str) -> str:
    """The variable that sets `field` (then `nested` sub-fields), e.g. `BILLING_WEB__MAX_BODY`."""
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    delimiter = str(settings_cls.model_config.get("env_nested_delimiter") or "__")
    return f"{prefix}{delimiter.join((field, *nested))}".upper()


def field_info(model_cls: type[BaseModel], path: tuple[str, ...]) -> FieldInfo | None:
    """The FieldInfo at `path` through nested models, or None when the path leaves them."""
    info: FieldInfo | None = None
    current: type[BaseModel] | None = model_cls
    for part in path:
        if current is None:
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            current = None
    return info
