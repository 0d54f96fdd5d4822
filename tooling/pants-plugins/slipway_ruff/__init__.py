"""Slipway's Pants backend for current ruff: `ruff check` (lint, fix) and `ruff format` (fmt)."""
