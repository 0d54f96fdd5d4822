"""One module per `slipway` command; each exposes `run(...) -> int` (the exit code)."""
