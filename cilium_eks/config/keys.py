"""The declared config keys: the one source for ``Pulumi.yaml``'s ``config:`` block, the
validator and the configuration reference (``python -m tooling.docs`` writes both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from ..aws_node import AWS_NODE_MODES
from ..cilium import DEFAULT_VERSION as DEFAULT_CILIUM_VERSION
from ..demo import POLICY_STAGES
from ..eks import DEFAULT_AMI_RELEASE, DEFAULT_KUBERNETES_VERSION, SUPPORTED_KUBERNETES_VERSIONS
from ..encryption import ENCRYPTION_MODES
from ..hubble import UI_ACCESS_MODES
from ..karpenter import DEFAULT_NODE_POOLS
from ..monitoring import GRAFANA_ACCESS_MODES, OBSERVABILITY_MODES
from ..network import NAT_GATEWAY_MODES

#: ``production`` turns on the strict checks.
Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)


@dataclass(frozen=True)
class ConfigKey:
    """One project config key. ``type`` is a Pulumi project config type, or ``object``
    for structured keys that Pulumi.yaml cannot type (they are documented there instead)."""

    name: str
    type: str  # "string" | "integer" | "boolean" | "array" | "object"
    default: Any
    description: str
    choices: tuple[str, ...] = ()


DEFAULT_NODE_GROUPS: Mapping[str, Any] = MappingProxyType({
    "general": {
        "instanceTypes": ["m6i.large"],
        "capacityType": "ON_DEMAND",
        "minSize": 2,
        "desiredSize": 2,
        "maxSize": 4,
        "diskSizeGiB": 50,
        "labels": {},
    }
})

CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("environment", "string", "production",
              "Environment class. Every class but `development` gets the strict checks (no public API "
              "endpoint open to 0.0.0.0/0, known-bad Cilium combinations refused, mandatory policies), so a "
              "missing or misspelled key can never weaken them.", ENVIRONMENTS),
    ConfigKey("vpcCidr", "string", "10.0.0.0/16",
              "IPv4 CIDR of the VPC this program creates (ignored with existingVpcId). Pods take "
              "their IPs from it in ENI mode, so size it for pods, not only nodes."),
    ConfigKey("availabilityZoneCount", "integer", 2,
              "Number of availability zones to spread subnets and nodes over (2 to 6)."),
    ConfigKey("natGateways", "string", "single",
              "`single`: one shared NAT gateway (cheap, one AZ is a single point of failure); "
              "`one-per-az`: a NAT gateway per AZ (highly available).", NAT_GATEWAY_MODES),
    ConfigKey("publicSubnetCidrs", "array", [],
              "Public subnet CIDRs (load balancers, NAT), one per AZ, inside vpcCidr. Empty: "
              "small blocks (/24 in a /16) from the last quarter of vpcCidr."),
    ConfigKey("privateSubnetCidrs", "array", [],
              "Private subnet CIDRs (nodes and pod ENIs), one per AZ, inside vpcCidr. Empty: "
              "a quarter of vpcCidr per AZ (an eighth with more than 3 AZs), room for pods."),
    ConfigKey("existingVpcId", "string", "",
              "Bring your own VPC: its id. Requires existingPrivateSubnetIds (and "
              "existingPublicSubnetIds for internet-facing load balancers)."),
    ConfigKey("existingPrivateSubnetIds", "array", [],
              "With existingVpcId: private subnet ids for nodes and pod ENIs, at least 2 AZs."),
    ConfigKey("existingPublicSubnetIds", "array", [],
              "With existingVpcId: public subnet ids (optional)."),
    ConfigKey("kubernetesVersion", "string", DEFAULT_KUBERNETES_VERSION,
              "EKS Kubernetes version, `1.NN`.", SUPPORTED_KUBERNETES_VERSIONS),
    ConfigKey("nodeAmiRelease", "string", DEFAULT_AMI_RELEASE,
              "EKS-optimized AL2023 AMI release of every node group, `vYYYYMMDD` (awslabs/amazon-eks-ami releases). "
              "Pinned: nodes roll only when it changes; docs/upgrading.md gives the command that finds the newest."),
    ConfigKey("endpointPrivateAccess", "boolean", True,
              "Reach the Kubernetes API from inside the VPC (nodes use it)."),
    ConfigKey("endpointPublicAccess", "boolean", True,
              "Reach the Kubernetes API from the internet, restricted to publicAccessCidrs. "
              "Pulumi itself needs API access to install Cilium."),
    ConfigKey("publicAccessCidrs", "array", [],
              "CIDRs allowed to reach the public API endpoint. Required when "
              "endpointPublicAccess is true; 0.0.0.0/0 is refused in production."),
    ConfigKey("clusterLogTypes", "array", ["api", "audit", "authenticator"],
              "Control-plane log types sent to CloudWatch."),
    ConfigKey("clusterAdminArns", "array", [],
              "IAM role/user ARNs given cluster-admin through EKS access entries. Only the identity that "
              "created the cluster is admin without an entry: list the CI deploy role when a person created "
              "the stack, and the people when CI did."),
    ConfigKey("awsNodeMode", "string", "patch",
              "How the AWS VPC CNI is disabled: `patch` (DaemonSet kept, scheduled nowhere; "
              "Cilium's recommendation) or `delete` (DaemonSet deleted, as the original recipe).",
              AWS_NODE_MODES),
    ConfigKey("ciliumVersion", "string", DEFAULT_CILIUM_VERSION,
              "Exact Cilium chart version `x.y.z` (1.16.0 or newer, up to the newest checked minor)."),
    ConfigKey("ciliumKubeProxyReplacement", "boolean", False,
              "Let Cilium replace kube-proxy (sets k8sServiceHost to the EKS API endpoint)."),
    ConfigKey("ciliumPrefixDelegation", "boolean", False,
              "ENI prefix delegation: /28 prefixes per ENI slot, far more pods per node (Nitro "
              "instances only)."),
    ConfigKey("ciliumExtraValues", "object", {},
              "Extra Helm values deep-merged into the Cilium release. Keys the chart removed "
              "(`tunnel`, ...) and values the program owns (`eni.enabled`, `ipam.mode`, ...) are refused, and so "
              "are values the pinned chart's schema refuses or does not define (checked offline when the chart's "
              "reference data is present). The one key that may be a secret (`pulumi config set --secret`, or a "
              "`secure` leaf): the release's values are then secret in the state and in previews."),
    ConfigKey("ciliumEncryption", "string", "none",
              "Transparent encryption of pod traffic between nodes: `none` or `wireguard` (Cilium's WireGuard "
              "tunnel on UDP 51871, which the EKS cluster security group already admits between nodes).",
              ENCRYPTION_MODES),
    ConfigKey("observability", "string", "none",
              "`none`, or `prometheus`: kube-prometheus-stack in the cluster (Prometheus, Alertmanager, Grafana on "
              "gp3 volumes through the EBS CSI add-on), Cilium, operator, Hubble and Hubble Relay metrics, Cilium's "
              "dashboards and alert rules.", OBSERVABILITY_MODES),
    ConfigKey("grafanaAccess", "string", "port-forward",
              "How to reach Grafana (with `observability: prometheus`): `port-forward` (a kubectl command as a stack "
              "output) or `internal-load-balancer` (an internal NLB reachable from the VPC only).",
              GRAFANA_ACCESS_MODES),
    ConfigKey("ampRemoteWrite", "boolean", False,
              "With `observability: prometheus`: create an Amazon Managed Service for Prometheus workspace and "
              "remote-write every sample there (SigV4, IRSA role allowed `aps:RemoteWrite` on that workspace only)."),
    ConfigKey("nodeGroups", "object", dict(DEFAULT_NODE_GROUPS),
              "Managed node groups: a map from group name to {instanceTypes, capacityType "
              "(ON_DEMAND|SPOT), minSize, desiredSize, maxSize, diskSizeGiB, labels}."),
    ConfigKey("karpenterEnabled", "boolean", False,
              "Run Karpenter 1.14 (controller on the managed node groups, IRSA, SQS interruption queue) and its "
              "NodePools: nodes for pending pods, each starting with Cilium's agent-not-ready startup taint and "
              "the max pods Cilium can address on every type its pool allows. See docs/autoscaling.md."),
    ConfigKey("karpenterNodePools", "object", dict(DEFAULT_NODE_POOLS),
              "Karpenter NodePools (with karpenterEnabled): a map from pool name to {instanceCategories, "
              "instanceFamilies, architectures (amd64|arm64), capacityTypes (on-demand|spot), minGeneration, "
              "minVcpus, maxVcpus, cpuLimit, memoryLimit, consolidationPolicy (WhenEmpty|WhenEmptyOrUnderutilized|"
              "Balanced), consolidateAfter, expireAfter, diskSizeGiB}."),
    ConfigKey("hubbleUiAccess", "string", "port-forward",
              "How to reach the Hubble UI: `port-forward` (a kubectl command as a stack output) "
              "or `internal-load-balancer` (an internal NLB reachable from the VPC only).",
              UI_ACCESS_MODES),
    ConfigKey("demoEnabled", "boolean", False,
              "Deploy the star-wars demo (deathstar, tiefighter, xwing) in its own namespace."),
    ConfigKey("deployRunner", "array", ["ubuntu-latest"],
              "GitHub Actions runner labels of the jobs that deploy this stack (not used by the program). "
              "A stack whose API is not open to GitHub-hosted runners names a self-hosted runner inside "
              "its VPC, or one whose static egress is in publicAccessCidrs; see docs/deploying.md."),
    ConfigKey("demoPolicy", "string", "l7",
              "Demo policy stage: `none`, `l3l4` (only org=empire reaches deathstar on TCP 80) or "
              "`l7` (and only POST /v1/request-landing).", POLICY_STAGES),
)

CONFIG_KEYS_BY_NAME: Mapping[str, ConfigKey] = MappingProxyType({k.name: k for k in CONFIG_KEYS})

#: The keys whose value the program carries as a secret when Pulumi says it is one (the Cilium
#: release's values become an ``Output.secret``). Every other key ends up in plain text in resource
#: names and inputs, so the validator refuses it as a secret rather than leak it into the state.
SECRET_CAPABLE_KEYS: frozenset[str] = frozenset({"ciliumExtraValues"})
