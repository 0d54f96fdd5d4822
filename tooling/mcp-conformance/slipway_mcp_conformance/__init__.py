"""Runs the official MCP conformance suite and inspector CLI against the contexts service."""
