"""Tests of the repository's `./pants` launcher live in this package."""
