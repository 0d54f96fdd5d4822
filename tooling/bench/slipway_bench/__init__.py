"""On-demand benchmarks of the Slipway platform (not part of the test suite)."""
