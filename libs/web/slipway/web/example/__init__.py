"""A small service built on slipway.web: settings, a versioned router, a resource, probes."""
