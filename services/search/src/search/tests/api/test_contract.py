"""The committed openapi.json is what the app serves, and no fuzzed request gets a 5xx.

After a deliberate API change, regenerate the contract with `./pants run services/<name>:openapi`.
"""

from slipway.web.testing import ContractSuite


class TestContract(ContractSuite):
    """slipway.web.testing's contract tests, on this service's app."""
