"""The plan model: creation steps, the waits between them, waves and the critical path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cilium_eks.config import StackConfig
from cilium_eks.karpenter import CRD_CHART_NAME as KARPENTER_CRD_CHART
from cilium_eks.monitoring import CRDS_CHART as PROMETHEUS_CRDS_CHART

from ..mockengine import Graph, RecordedResource

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_ADDON = "aws:eks/addon:Addon"

#: Rough creation times of the slow AWS and Kubernetes steps (seconds, why). Everything
#: else is a few seconds. They are estimates for reading the order, not promises.
SLOW_STEPS: Mapping[str, tuple[int, str]] = {
    EKS_CLUSTER: (600, "EKS control plane ~10 min"),
    EKS_NODE_GROUP: (240, "managed node group ~3-5 min: instances boot, join, and turn Ready once "
                          "their Cilium agent runs"),
    "aws:ec2/natGateway:NatGateway": (120, "NAT gateway ~2 min"),
    EKS_ADDON: (60, "EKS add-on ~1 min, after the control plane"),
    HELM_RELEASE: (60, "Helm release ~1 min without waiting for pods"),
    "command:local:Command": (30, "kubectl command ~30 s"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (5, ""),
}
DEFAULT_STEP_SECONDS = 5
#: Charts that hold only CRDs: Helm's wait has no pod to wait for, only the CRDs turning Established
#: (helm `pkg/kube/ready.go` checks a CRD's Established condition), which takes seconds.
CRD_ONLY_CHARTS: frozenset[str] = frozenset({KARPENTER_CRD_CHART, PROMETHEUS_CRDS_CHART})
CRD_RELEASE_SECONDS = 30
#: A step at least this slow gets its note printed.
SLOW_THRESHOLD_SECONDS = 30


class PlanError(Exception):
    """A plan that cannot be computed (a dependency cycle, a missing tool)."""




@dataclass(frozen=True)
class Step:
    """Something the engine creates as one unit: a custom resource, or a pulumi-eks
    component with everything its provider creates inside it."""

    urn: str
    name: str
    label: str  # name without the `<project>-<stack>-` prefix
    type: str
    remote: bool
    members: tuple[RecordedResource, ...]  # resources created by pulumi-eks inside a remote step
    seconds: int
    note: str


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str


@dataclass
class Plan:
    graph: Graph
    config: StackConfig
    steps: dict[str, Step]
    #: step urn -> {step urn it waits for directly -> why (kinds)}
    waits: dict[str, dict[str, frozenset[str]]]
    #: the same without the waits already implied by another one (what the diagram draws)
    reduced: dict[str, dict[str, frozenset[str]]]
    wave: dict[str, int]
    start: dict[str, int]
    critical_path: list[str]
    cilium_values: dict[str, Any] | None
    checks: list[Check]

    @property
    def prefix(self) -> str:
        return f"{self.graph.project}-{self.graph.stack}"

    @property
    def waves(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(max(self.wave.values(), default=0))]
        for urn in sorted(self.steps, key=self._order):
            out[self.wave[urn] - 1].append(urn)
        return out

    @property
    def total_seconds(self) -> int:
        if not self.critical_path:
            return 0
        last = self.critical_path[-1]
        return self.start[last] + self.steps[last].seconds

    def _order(self, urn: str) -> tuple[int, str]:
        return self.wave[urn], self.steps[urn].label

    def finish(self, urn: str) -> int:
        return self.start[urn] + self.steps[urn].seconds

    def subtree_key(self, urn: str) -> tuple[int, int, str]:
        """Sort key of a resource or component: when the last step in it is done, so the
        tree and the diagram read in creation order (network, cluster, ..., demo)."""
        inside = [urn, *(r.urn for r in self.graph.descendants(urn))]
        steps = [u for u in inside if u in self.steps]
        if not steps:
            return (10**9, 10**9, self.graph.get(urn).name)
        return (max(self.finish(u) for u in steps), max(self.wave[u] for u in steps), self.graph.get(urn).name)

    def step_of_name(self, name: str) -> Step:
        """The step a resource (by full or short name) belongs to."""
        for s in self.steps.values():
            if name in (s.name, s.label) or any(m.name == name for m in s.members):
                return s
        raise KeyError(name)

