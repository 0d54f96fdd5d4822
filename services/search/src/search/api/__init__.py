"""Transport: the HTTP routes and their request and response schemas, under /v1."""
