"""`slipway`: stamp services and libs from the repository's Copier templates, keep them updated.

Run it as `./pants run tooling/cli -- --help`; `slipway_cli.main` is the entry point.
"""
