"""The search service.

Full-text search over the contexts registry, indexed from its change events
"""

__version__ = "0.1.0"
