"""The Cilium-on-EKS guardrails: one validator function per rule (``guardrails.rules.*``), and
the policies built from them. Importing this package starts nothing; ``policies/__main__.py``
hands :func:`build_policies` to a ``PolicyPack`` when the engine runs the pack.

Self-contained: it imports only the policy SDK and ``guardrails.core``, a generated copy of
the project's ``cilium_eks`` package (``python -m tooling.vendor``), never the program.

How CrossGuard sees this program (facts the rules rely on; sources in policies/README.md):

* Resource policies run for every resource the engine registers, *before* it is created,
  with its inputs (camelCase). The children that pulumi-eks's provider registers for a
  remote component (``aws:eks/cluster:Cluster``, ``aws:eks/nodeGroup:NodeGroup``, add-ons,
  a default node group) are analysed like any other resource.
* A component reaches the analyzer with the properties *its registrant* sent. pulumi-eks
  components are registered by its Node.js provider, whose ``ComponentResource`` sends no
  properties: ``eks:index:Cluster`` arrives with empty ``props``. Rules therefore read the
  custom resources the component creates, and use component inputs only when present.
* Stack policies run once all resources are registered (at the end of a preview, or of an
  update), with every resource's *outputs*, parent, dependencies and property
  dependencies; they are the only place relationships between resources are visible.
* A policy's enforcement level is fixed for a run (per policy, overridable by the pack
  config's ``enforcementLevel``); a validator cannot choose it per violation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from .context import StackContext
from .rules.cilium_eni_mode import validate_cilium_eni_mode
from .rules.cilium_known_bad_combinations import validate_cilium_known_bad_combinations
from .rules.cilium_operator_least_privilege import validate_cilium_operator_least_privilege
from .rules.cilium_release_does_not_wait import validate_cilium_release_does_not_wait
from .rules.cilium_version_pinned import validate_cilium_version_pinned
from .rules.eks_api_not_public import validate_eks_api_not_public
from .rules.eks_control_plane_logs import validate_eks_control_plane_logs
from .rules.eks_no_default_node_group import validate_eks_no_default_node_group
from .rules.eks_secrets_encrypted import validate_eks_secrets_encrypted
from .rules.hubble_observability import validate_hubble_observability
from .rules.karpenter_nodepools import validate_karpenter_nodepools
from .rules.node_capacity import validate_node_capacity
from .rules.nodes_join_after_cilium import validate_nodes_join_after_cilium
from .rules.stack_config_valid import validate_stack_config_valid
from .rules.traffic_encrypted import validate_traffic_encrypted
from .rules.vpc_cni_disabled import validate_vpc_cni_disabled
from .schemas import API_SCHEMA, ENI_MODE_SCHEMA, HUBBLE_SCHEMA, LEAST_PRIVILEGE_SCHEMA, LOGS_SCHEMA, VERSION_SCHEMA

PACK_NAME = "cilium-eks-guardrails"


Validator = Callable[..., None]


@dataclass(frozen=True)
class Rule:
    """One rule: its policy name, kind, validator, default level and config schema."""

    name: str
    description: str
    stack: bool
    validate: Validator
    level: EnforcementLevel
    severity: Severity
    schema: PolicyConfigSchema | None = None

    def policy(self) -> Policy:
        if self.stack:
            return StackValidationPolicy(name=self.name, description=self.description, validate=self.validate,
                                         enforcement_level=self.level, config_schema=self.schema,
                                         severity=self.severity)
        return ResourceValidationPolicy(name=self.name, description=self.description, validate=self.validate,
                                        enforcement_level=self.level, config_schema=self.schema,
                                        severity=self.severity)


MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def all_rules(context: StackContext | None = None) -> list[Rule]:
    """Every rule, with the levels for ``context`` (production unless it says otherwise)."""
    context = context or StackContext()
    return [
        Rule("eks-no-default-node-group", "EKS clusters skip pulumi-eks's default node group.",
             False, validate_eks_no_default_node_group, MANDATORY, Severity.HIGH),
        Rule("cilium-eni-mode", "Cilium uses AWS ENI IPAM with native routing and no removed chart values.",
             False, validate_cilium_eni_mode, MANDATORY, Severity.CRITICAL, ENI_MODE_SCHEMA),
        Rule("cilium-version-pinned", "The Cilium chart is pinned to an exact x.y.z at or above the floor.",
             False, validate_cilium_version_pinned, MANDATORY, Severity.HIGH, VERSION_SCHEMA),
        Rule("cilium-release-does-not-wait", "A Cilium release installed before its nodes does not wait.",
             False, validate_cilium_release_does_not_wait, MANDATORY, Severity.CRITICAL),
        Rule("nodes-join-after-cilium",
             "Every node group waits for the Cilium release and carries the agent-not-ready NoExecute taint.",
             True, validate_nodes_join_after_cilium, MANDATORY, Severity.CRITICAL),
        Rule("vpc-cni-disabled", "aws-node is disabled before Cilium is installed and never reinstalled.",
             True, validate_vpc_cni_disabled, MANDATORY, Severity.CRITICAL),
        Rule("cilium-operator-least-privilege",
             "cilium-operator's IAM role grants only the ENI actions and trusts only its service account.",
             True, validate_cilium_operator_least_privilege, MANDATORY, Severity.HIGH, LEAST_PRIVILEGE_SCHEMA),
        Rule("hubble-observability", "Hubble relay and UI run with TLS; the UI is never internet-facing.",
             False, validate_hubble_observability, ADVISORY, Severity.MEDIUM, HUBBLE_SCHEMA),
        Rule("eks-api-not-public", "The EKS API endpoint is not open to the whole internet.",
             False, validate_eks_api_not_public, MANDATORY if context.production else ADVISORY, Severity.HIGH,
             API_SCHEMA),
        Rule("eks-secrets-encrypted", "Kubernetes Secrets are envelope-encrypted with KMS.",
             False, validate_eks_secrets_encrypted, ADVISORY, Severity.MEDIUM),
        Rule("eks-control-plane-logs", "Security-relevant EKS control-plane logs are enabled.",
             False, validate_eks_control_plane_logs, ADVISORY, Severity.LOW, LOGS_SCHEMA),
        Rule("cilium-known-bad-combinations",
             "The Cilium release is no version x values combination of the known-bad table.",
             False, validate_cilium_known_bad_combinations, MANDATORY if context.production else ADVISORY,
             Severity.HIGH),
        Rule("node-capacity",
             "Node groups admit exactly the pods Cilium can address, and their subnets hold them at maxSize.",
             True, validate_node_capacity, MANDATORY, Severity.HIGH),
        Rule("karpenter-nodepools",
             "Karpenter NodePools carry Cilium's startup taint and admit exactly the pods Cilium can address.",
             True, validate_karpenter_nodepools, MANDATORY, Severity.HIGH),
        Rule("stack-config-valid", "The stack's configuration passes the program's own validator.",
             True, functools.partial(validate_stack_config_valid, context=context), MANDATORY, Severity.HIGH),
        Rule("traffic-encrypted", "Pod traffic between nodes is encrypted (WireGuard or IPsec).",
             False, validate_traffic_encrypted, MANDATORY if context.production else ADVISORY, Severity.HIGH),
    ]


def build_policies(context: StackContext | None = None) -> list[Policy]:
    """The policies of the pack, for ``policies/__main__.py`` (and the offline adapter)."""
    return [rule.policy() for rule in all_rules(context)]
