"""The tooling around the product: offline plan, living docs, mock engine, contract checks,
verify, the policy adapter, the pack's vendored core, golden files, reference data and the stack CLI.

Never imported by ``components/`` or ``__main__.py`` (a test holds that rule); it imports
them, and the Pulumi-free core (``cilium_eks``), to inspect and check them. Not part of the
installed distribution: it runs from a checkout (``python -m tooling.<module>``).
"""
