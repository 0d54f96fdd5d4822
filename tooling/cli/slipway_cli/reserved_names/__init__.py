"""The names no project may take, generated for the root copier.yml's `name` validator.

`./pants run tooling/cli/slipway_cli/reserved_names:generate` rewrites
3rdparty/python/reserved-names.yml; see `slipway_cli.reserved_names.generate`.
"""
