"""What the platform gives every service: probes, metrics, docs, problem+json errors, headers."""

from slipway.web.testing import ProbeSuite


class TestProbes(ProbeSuite):
    """slipway.web.testing's probe tests, on this service's app."""
