"""Fixtures shared by the domain tests."""

import pytest

from contexts.tests.unit.domain.world import World, make_world


@pytest.fixture
def world() -> World:
    """A fresh registry over empty in-memory ports."""
    return make_world()
