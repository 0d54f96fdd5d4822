"""Request and response bodies of the items API (the wire format, apart from the model)."""

from uuid import UUID

from pydantic import BaseModel, Field

from search.domain.model import NAME_MAX_LENGTH, Item

# Printable text: no control characters.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class NewItem(BaseModel):
    """An item to create."""

    name: str = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, examples=["first item"]
    )


class ItemResponse(BaseModel):
    """An item."""

    id: UUID
    name: str

    @classmethod
    def of(cls, item: Item) -> "ItemResponse":
        """The response body for `item`."""
        return cls(id=item.id, name=item.name)


class ItemList(BaseModel):
    """A page of items, ordered by name."""

    items: list[ItemResponse]
