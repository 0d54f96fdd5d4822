"""Slipway CI tooling: affected-only selection of what to lint, check and test."""
