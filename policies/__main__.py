"""The policy pack `pulumi preview --policy-pack policies` runs (the only place a PolicyPack,
and with it the policy server, is started).

The engine starts this file with ``runpy.run_path(".")`` from the ``policies/`` directory
(pulumi's ``pulumi.policy`` runner), so only ``policies/`` itself is on ``sys.path``. The
rules reuse the program's facts (``cilium_eks``: the taint, the aws-node selector, the
operator's IAM actions, the removed chart values), so the project root, this file's parent
directory, is put on ``sys.path`` first: one source for those facts, whatever the current
directory. Consequence: the pack runs from a checkout of this project; publishing it to
Pulumi Cloud (``pulumi policy publish`` uploads ``policies/`` only) would need
``cilium_eks`` vendored or installed into the pack's environment.
"""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402  (needs the path above)

from policies.rules import PACK_NAME, StackContext, build_policies  # noqa: E402

# The engine hands the pack the stack's config (PULUMI_CONFIG) and name before any resource:
# eks-api-not-public is mandatory when `<project>:environment` is production (or unreadable).
PolicyPack(
    name=PACK_NAME,
    description="Cilium-on-EKS guardrails: ENI IPAM, nodes after Cilium, aws-node disabled, least-privilege "
                "operator, Hubble, API exposure, encryption and logs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(StackContext.from_environment()),
)
