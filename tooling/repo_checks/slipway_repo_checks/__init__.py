"""Checks that the repository's own configuration files agree with each other."""
