"""Change events leave the service: the outbox relay, the events settings, and a typed
consumer for other services. Application layer: it wires domain ports, no I/O of its own."""
