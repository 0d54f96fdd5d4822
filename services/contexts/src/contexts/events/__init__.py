"""Change events on slipway.events: the service's settings for them and who may see which.

The pipeline itself (outbox, relay, streams, fan-out, SSE) is slipway.events'; this package
holds only what is the service's: `EventsSettings` and `EventVisibility`."""
