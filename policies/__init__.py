"""CrossGuard policy pack guarding the Cilium-on-EKS invariants of this project.

Importing this package (or ``policies.rules``) never starts the policy server: only
``policies/__main__.py``, which ``pulumi preview --policy-pack policies`` runs, creates the
``PolicyPack``. ``policies.adapter`` evaluates the same policies offline against the graph
the mock engine records, through the policy SDK's own analyzer code.
"""
