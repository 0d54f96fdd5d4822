"""Pure domain of the contexts registry: types, rules and ports, no framework or I/O."""
