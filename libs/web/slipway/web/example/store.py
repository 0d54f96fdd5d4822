"""The example's in-memory resource: greeting templates, opened and closed with the app."""

import logging

logger = logging.getLogger("slipway.web.example.store")

DEFAULT_TEMPLATE = "Hello, {name}!"


class GreetingStore:
    """Greeting templates by name, in memory; a `Resource` for `create_app`."""

    name = "greeting-store"

    def __init__(self) -> None:
        self._templates: dict[str, str] | None = None

    @property
    def is_open(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._templates is not None

    async def start(self) -> None:
        """Open the store (a real service would connect its pool here)."""
        self._templates = {}

    async def stop(self) -> None:
        """Close the store, forgetting every template."""
        self._templates = None

    def _opened(self) -> dict[str, str]:
        if self._templates is None:
            raise RuntimeError("GreetingStore used before start() or after stop()")
        return self._templates

    def template_for(self, name: str) -> str:
        """The template registered for `name`, or the default one."""
        return self._opened().get(name, DEFAULT_TEMPLATE)

    def add(self, name: str, template: str) -> bool:
        """Register `template` for `name`; False when `name` already has one."""
        templates = self._opened()
        if name in templates:
            return False
        templates[name] = template
        return True


class StoreReady:
    """Readiness check: the store is open."""

    name = "greeting-store"

    def __init__(self, store: GreetingStore) -> None:
        self.store = store

    async def __call__(self) -> None:
        """Raise when the store is not open."""
        if not self.store.is_open:
            raise ConnectionError("greeting store is closed")
