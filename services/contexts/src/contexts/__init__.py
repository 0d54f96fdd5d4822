"""The contexts service.

A registry of named, versioned, schema-checked JSON contexts for applications and AI agents
"""

__version__ = "0.1.0"
