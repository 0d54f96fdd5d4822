"""Adapters: the domain's ports implemented on memory, SQL, Redis and other I/O."""
