"""The frozen, typed configuration of one stack: the domain values of each part, plus the
stack's identity (project, stack, region, environment) from which names and tags derive."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..aws_node import AwsNodeMode
from ..capacity import PodAddressing
from ..cilium import CiliumOptions
from ..demo import DemoPolicy
from ..eks import ClusterSpec, NodeGroupSpec
from ..hubble import HubbleUiAccess
from ..karpenter import KarpenterSpec
from ..monitoring import MonitoringSpec, host_network_pods, kube_prometheus_values
from ..network import ExistingVpc, NewVpc
from .keys import Environment
from .problems import Problem


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str
    environment: Environment
    vpc_cidr: str
    network: NewVpc | ExistingVpc
    cluster: ClusterSpec
    node_ami_release: str
    aws_node_mode: AwsNodeMode
    cilium_version: str
    cilium: CiliumOptions
    node_groups: tuple[NodeGroupSpec, ...]
    #: Karpenter and its NodePools (deployed only when ``karpenter.enabled``).
    karpenter: KarpenterSpec
    hubble_ui_access: HubbleUiAccess
    demo_enabled: bool
    demo_policy: DemoPolicy
    #: The metrics stack's access and remote write (used with ``cilium.observability == "prometheus"``).
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)
    #: What the validator found that does not stop this entry (warnings; `deploy` problems in a preview).
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    #: The project's keys Pulumi reports as secret (``pulumi config set --secret``), without namespace.
    #: A secret reaches resources only inside ``Output.secret`` (``is_secret``).
    secret_keys: frozenset[str] = field(default=frozenset())

    @property
    def name_prefix(self) -> str:
        """Every physical name starts with this, so two stacks can share an account."""
        return f"{self.project}-{self.stack}"

    @property
    def cluster_name(self) -> str:
        return self.name_prefix

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def strict(self) -> bool:
        """Production checks apply unless the stack says it is for development: a missing or
        misspelled environment can never weaken them."""
        return self.environment != "development"

    @property
    def monitoring_enabled(self) -> bool:
        return self.cilium.observability == "prometheus"

    @property
    def pod_addressing(self) -> PodAddressing:
        """How pods are addressed on every node: Cilium's (``CiliumOptions.pod_addressing``) plus the
        host-network pods the metrics stack adds (node-exporter), read from its values as built."""
        extra = host_network_pods(kube_prometheus_values(storage_class="-")) if self.monitoring_enabled else 0
        return replace(self.cilium.pod_addressing, host_network_extra=extra)

    def is_secret(self, key: str) -> bool:
        """Whether the config key ``key`` (no namespace) holds a secret."""
        return key in self.secret_keys

    @property
    def total_min_nodes(self) -> int:
        return sum(g.min_size for g in self.node_groups)

    @property
    def tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "managed-by": "pulumi",
        }
