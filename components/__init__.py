"""Pulumi components for EKS networked by Cilium: a library, usable from any Pulumi stack.

One component per module, each ``Component(name, args, opts=None)`` with a frozen ``Args``
dataclass of narrow, typed inputs (never a whole stack configuration). The facts they
share (modes, chart values, taints, IAM actions) come from the Pulumi-free ``cilium_eks``
package; nothing here imports the tooling.

Order a stack must keep, with the data each component hands the next::

    Network -> Cluster -> AwsNodeRemoval -> Cilium -> NodeGroup(s) -> CoreDns, HubbleUi, StarWarsDemo
    Network -> EniCleanup -> NodeGroup(s)   (so the cleanup runs on destroy between nodes and subnets)
    NodeGroup(s), KarpenterInterruption -> Karpenter (release -> EC2NodeClass -> NodePool; destroy backwards)
    Cluster -> PrometheusCrds -> Cilium; NodeGroup(s) -> EbsCsiDriver -> Monitoring (<- ManagedPrometheus)
"""

from .aws_node import AwsNodeRemoval, AwsNodeRemovalArgs
from .cilium import Cilium, CiliumArgs
from .cluster import Cluster, ClusterArgs
from .coredns import CoreDns, CoreDnsArgs
from .ebs_csi import EbsCsiDriver, EbsCsiDriverArgs
from .eni_cleanup import EniCleanup, EniCleanupArgs
from .hubble_ui import HubbleUi, HubbleUiArgs
from .karpenter import Karpenter, KarpenterArgs
from .karpenter_interruption import KarpenterInterruption, KarpenterInterruptionArgs
from .managed_prometheus import ManagedPrometheus, ManagedPrometheusArgs
from .monitoring import Monitoring, MonitoringArgs
from .network import Network, NetworkArgs
from .node_group import NodeGroup, NodeGroupArgs
from .prometheus_crds import PrometheusCrds, PrometheusCrdsArgs
from .star_wars_demo import StarWarsDemo, StarWarsDemoArgs

__all__ = [
    "AwsNodeRemoval",
    "AwsNodeRemovalArgs",
    "Cilium",
    "CiliumArgs",
    "Cluster",
    "ClusterArgs",
    "CoreDns",
    "CoreDnsArgs",
    "EbsCsiDriver",
    "EbsCsiDriverArgs",
    "EniCleanup",
    "EniCleanupArgs",
    "HubbleUi",
    "HubbleUiArgs",
    "Karpenter",
    "KarpenterArgs",
    "KarpenterInterruption",
    "KarpenterInterruptionArgs",
    "ManagedPrometheus",
    "ManagedPrometheusArgs",
    "Monitoring",
    "MonitoringArgs",
    "Network",
    "NetworkArgs",
    "NodeGroup",
    "NodeGroupArgs",
    "PrometheusCrds",
    "PrometheusCrdsArgs",
    "StarWarsDemo",
    "StarWarsDemoArgs",
]
