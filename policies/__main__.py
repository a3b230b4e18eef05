"""The policy pack `pulumi preview --policy-pack policies` runs (the only place a PolicyPack,
and with it the policy server, is started).

The engine runs this file from the ``policies/`` directory, which is then on ``sys.path``:
``guardrails`` (the rules and their generated copy of the product core) is importable from
here, and nothing outside this folder is needed, so ``pulumi policy publish`` works.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from guardrails import PACK_NAME, build_policies
from guardrails.context import StackContext

# The engine hands the pack the stack's config (PULUMI_CONFIG) and name before any resource:
# eks-api-not-public is mandatory when `<project>:environment` is production (or unreadable).
PolicyPack(
    name=PACK_NAME,
    description="Cilium-on-EKS guardrails: ENI IPAM, nodes after Cilium, aws-node disabled, least-privilege "
                "operator, Hubble, API exposure, encryption and logs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(StackContext.from_environment()),
)
