"""One module per rule: its validator function, importable without starting the policy server."""
