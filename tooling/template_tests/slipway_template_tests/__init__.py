"""End-to-end tests of the Copier templates: render, update and conflict, in a scratch repo."""
