"""The domain: the service's model, its use cases and the ports adapters implement.

Pure: pydantic and the standard library only, never FastAPI, SQLAlchemy or Redis.
"""
