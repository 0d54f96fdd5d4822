"""The local stack: contexts, search and the development authorization server on one command."""
