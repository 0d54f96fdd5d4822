"""The platform's shared suites, run against the example service as a service runs them."""

from slipway.web.testing import ContractSuite, ProbeSuite


class TestProbes(ProbeSuite):
    pass


class TestContract(ContractSuite):
    pass
