"""The stack CLI (``python -m tooling.cli``): stacks, prerequisites, state backend, commands."""
