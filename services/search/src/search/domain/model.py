"""The items model and its events."""

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

NAME_MAX_LENGTH = 100


class Item(BaseModel):
    """Something the service keeps: an id and a name."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)


class ItemNotFoundError(LookupError):
    """No item has the id asked for."""

    def __init__(self, item_id: UUID) -> None:
        super().__init__(f"no item {item_id}")
        self.item_id = item_id


class DomainEvent(BaseModel):
    """Something that happened in the domain, published after it happened."""

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]


class ItemCreated(DomainEvent):
    """An item was created."""

    event_type: ClassVar[str] = "item.created"

    item_id: UUID
    name: str
