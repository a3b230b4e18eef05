"""Karpenter 1.14.1 on a Cilium ENI-mode cluster: what a stack chooses (``KarpenterSpec``,
``NodePoolSpec``), and the objects, IAM documents, event patterns and Helm values built from it.

Pure data in, plain dicts out (camelCase, as the CRDs and AWS read them): the component
(``components/karpenter.py``), the config validator, the plan, ``verify`` and the policy pack all
read the same answers. Sources are aws/karpenter-provider-aws at tag v1.14.1 (``bde00654c``) unless
a line says otherwise; ``website/.../getting-started-with-karpenter/cloudformation.yaml`` is quoted
as "the reference template" (blob ``2c2ca723``, identical at v1.14.1 and on main).

Max pods, the one thing Cilium changes for Karpenter. Karpenter computes a node's pods as
``(ENIs - reservedENIs) x (IPv4 per ENI - 1) + 2`` (``pkg/providers/instancetype/types.go``
``ENILimitedPods``, 485-505) unless ``EC2NodeClass spec.kubelet.maxPods`` is set, which then wins
(``pods()``, 576-591), and it always writes the result as ``maxPods`` into the AL2023 NodeConfig
(``pkg/providers/amifamily/resolver.go`` 282-287), so a nodeadm ``maxPodsExpression`` never applies.
Cilium addresses ``(ENIs - firstInterfaceIndex) x (IPv4 per ENI - 1) - reserved IPs`` pods plus the
host-network pods (``capacity.py``). ``reservedENIs`` can only remove whole ENIs, so it is exact for
neither mode: with ``reservedENIs = firstInterfaceIndex`` Karpenter admits ``2 - (host-network -
reserved IPs)`` pods more than Cilium addresses (1 with this project's defaults: agent, envoy and
kube-proxy on the host network, cilium_host and health taking IPs), one ENI more wastes a whole ENI
of pods, and with prefix delegation (16 addresses per slot) it is off by a factor Karpenter's formula
cannot express. So every NodePool gets its own EC2NodeClass whose ``kubelet.maxPods`` is the capacity
model's smallest max pods over the instance types the pool allows, and the pool's requirements pin
exactly those types (``node.kubernetes.io/instance-type In [...]``): the kubelet never admits more
pods than Cilium can address on any type the pool can launch. The price is pods left unused on the
larger types of a pool; ``pool_problems`` warns when that exceeds half, and narrowing the pool
(``minVcpus``/``maxVcpus``, families) removes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

from . import capacity, instance_types
from .capacity import GroupDemand, NodeCapacity, PodAddressing
from .cilium import AGENT_NOT_READY_TAINT, get_path
from .instance_types import InstanceType
from .operator_iam import irsa_trust_policy

VERSION = "1.14.1"
#: The charts as published (``hack/release/common.sh`` 4-5, 114-115: ``helm push ... oci://public.ecr.aws/karpenter/``).
CHART = "oci://public.ecr.aws/karpenter/karpenter"
#: Helm installs a chart's ``crds/`` once and never upgrades them; this chart carries the CRDs as templates
#: (``website/.../upgrading/upgrade-guide.md`` 72-79).
CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"
CHART_NAME = "karpenter"
CRD_CHART_NAME = "karpenter-crd"
NAMESPACE = "kube-system"  # as the getting-started guide (KARPENTER_NAMESPACE="kube-system")
RELEASE_NAME = "karpenter"
CRD_RELEASE_NAME = "karpenter-crd"
SERVICE_ACCOUNT = "karpenter"
#: The controller Deployment's selector label (chart ``_helpers.tpl`` selectorLabels).
CONTROLLER_SELECTOR = ("app.kubernetes.io/name", "karpenter")

#: Subnets and security groups Karpenter nodes may use carry this tag (the getting-started guide's
#: selector, ``nodeclasses.md`` 669: "We generally recommend that you use the `karpenter.sh/discovery:
#: $CLUSTER_NAME` tag selector").
DISCOVERY_TAG = "karpenter.sh/discovery"
#: Karpenter labels every node it launches with its NodePool (the chart's own affinity keys on it).
NODEPOOL_LABEL = "karpenter.sh/nodepool"
#: Every managed node of this project carries it (components/node_group.py); the controller runs there.
MANAGED_NODE_LABEL = "cilium-eks/node-group"

NODEPOOL_API_VERSION, NODEPOOL_KIND = "karpenter.sh/v1", "NodePool"
NODECLASS_GROUP, NODECLASS_API_VERSION, NODECLASS_KIND = "karpenter.k8s.aws", "karpenter.k8s.aws/v1", "EC2NodeClass"
#: The Pulumi type tokens of the two custom resources (pulumi-kubernetes ``apiextensions.CustomResource``).
NODEPOOL_TYPE = f"kubernetes:{NODEPOOL_API_VERSION}:{NODEPOOL_KIND}"
NODECLASS_TYPE = f"kubernetes:{NODECLASS_API_VERSION}:{NODECLASS_KIND}"

ConsolidationPolicy = Literal["WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"]
#: The NodePool CRD's enum (``karpenter.sh_nodepools.yaml`` 153-164; ``Balanced`` is new in 1.14).
CONSOLIDATION_POLICIES: tuple[str, ...] = get_args(ConsolidationPolicy)
#: ``karpenter.sh/capacity-type`` values a pool may ask for (``reserved`` needs capacity reservations).
CAPACITY_TYPES = ("on-demand", "spot")
ARCHITECTURES = ("amd64", "arm64")
#: ``consolidateAfter`` / ``expireAfter`` (``karpenter.sh_nodepools.yaml`` 145-152, 239-247).
DURATION = re.compile(r"^(([0-9]+(s|m|h))+|Never)$")
QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")

#: Cilium's taint as a NodePool startup taint. Karpenter matches startup taints by key and effect
#: (core ``pkg/controllers/state/statenode.go`` 321-336, ``corev1.Taint.MatchTaint``), so the effect must be
#: the one the nodes carry: NoExecute, as on the managed node groups.
STARTUP_TAINT: Mapping[str, str] = MappingProxyType({
    "key": AGENT_NOT_READY_TAINT["key"], "value": AGENT_NOT_READY_TAINT["value"], "effect": "NoExecute"})

#: Pods must not reach IMDS: one hop lets the node's own processes (and host-network pods: the Cilium agent
#: reads its instance's ENI facts there) answer, a pod behind the extra routing hop gets no token. The CRD's
#: default, stated so the intent is visible (``karpenter.k8s.aws_ec2nodeclasses.yaml`` 493-497, ``nodeclasses.md``
#: 132: "This is changed to disable IMDS access from containers not on the host network").
METADATA_OPTIONS: Mapping[str, Any] = MappingProxyType({
    "httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"})


# --------------------------------------------------------------------------------------
# What a stack chooses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodePoolSpec:
    """One NodePool (and its EC2NodeClass). ``instance_families`` empty: every family of the categories.
    ``min_vcpus <= max_vcpus``; ``cpu_limit`` in vCPUs, ``memory_limit`` a quantity (``256Gi``)."""

    name: str
    instance_categories: tuple[str, ...] = ("c", "m", "r")
    instance_families: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ("amd64",)
    capacity_types: tuple[str, ...] = ("on-demand",)
    min_generation: int = 5
    min_vcpus: int = 4
    max_vcpus: int = 16
    cpu_limit: int = 64
    memory_limit: str = "256Gi"
    consolidation_policy: ConsolidationPolicy = "WhenEmptyOrUnderutilized"
    consolidate_after: str = "5m"
    expire_after: str = "720h"
    disk_size_gib: int = 50


@dataclass(frozen=True)
class KarpenterSpec:
    """Whether the stack runs Karpenter, and its NodePools (deployed only when ``enabled``)."""

    enabled: bool = False
    node_pools: tuple[NodePoolSpec, ...] = field(default_factory=tuple)


#: The config key's default: one pool of current c/m/r x86 types from 4 to 16 vCPUs.
DEFAULT_NODE_POOLS: Mapping[str, Any] = MappingProxyType({
    "default": {
        "instanceCategories": ["c", "m", "r"],
        "instanceFamilies": [],
        "architectures": ["amd64"],
        "capacityTypes": ["on-demand"],
        "minGeneration": 5,
        "minVcpus": 4,
        "maxVcpus": 16,
        "cpuLimit": 64,
        "memoryLimit": "256Gi",
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "5m",
        "expireAfter": "720h",
        "diskSizeGiB": 50,
    }
})


# --------------------------------------------------------------------------------------
# Instance types a pool allows, and what Cilium addresses on them
# --------------------------------------------------------------------------------------

#: Karpenter's own parse of a type name (``pkg/providers/instancetype/types.go`` 49, 247-251): group 1 is
#: ``karpenter.k8s.aws/instance-category``, group 3 ``instance-generation``.
_TYPE_SCHEME = re.compile(r"(^[a-z]+)(\-[0-9]+tb)?([0-9]+).*\.")


def category(name: str) -> str | None:
    m = _TYPE_SCHEME.match(name)
    return m[1] if m else None


def generation(name: str) -> int | None:
    m = _TYPE_SCHEME.match(name)
    return int(m[3]) if m else None


def allowed_types(pool: NodePoolSpec, addressing: PodAddressing) -> list[InstanceType]:
    """The instance types of the table the pool may launch, by name: its categories, families,
    architectures, generation and vCPU range; with prefix delegation only types EC2 delegates prefixes
    to; never a type that addresses no pod. Types the table does not know are never allowed."""
    out = []
    for t in instance_types.table().values():
        cat, gen = category(t.name), generation(t.name)
        if cat is None or gen is None or t.vcpus is None or t.architecture is None:
            continue
        if cat not in pool.instance_categories or gen < pool.min_generation:
            continue
        if pool.instance_families and t.family not in pool.instance_families:
            continue
        if t.architecture not in pool.architectures or not pool.min_vcpus <= t.vcpus <= pool.max_vcpus:
            continue
        if addressing.prefix_delegation and not t.supports_prefix_delegation:
            continue
        if addressing.node(t).pod_ips < 1:
            continue
        out.append(t)
    return sorted(out, key=lambda t: t.name)


def max_pods_for(type_names: Sequence[str], addressing: PodAddressing) -> tuple[int | None, list[str]]:
    """The kubelet max pods a NodeClass must set for nodes of these types (the smallest the capacity model
    gives any of them), and the names the table does not know (then no number is safe: None)."""
    unknown = [n for n in type_names if instance_types.lookup(n) is None]
    known = [t for t in (instance_types.lookup(n) for n in type_names) if t is not None]
    if unknown or not known:
        return None, unknown
    return min(addressing.node(t).max_pods for t in known), []


def eni_limited_pods(t: InstanceType, reserved_enis: int = 0) -> int:
    """Karpenter's own max pods for a type when no ``kubelet.maxPods`` is set: ``(ENIs - reservedENIs) x
    (IPv4 per ENI - 1) + 2``, 0 without a usable ENI (``types.go`` ``ENILimitedPods`` 485-505; EFA-only
    interfaces, which this table does not list, are not counted). The VPC CNI's formula, not Cilium's."""
    usable = max(t.enis - reserved_enis, 0)
    return usable * (t.ipv4_per_eni - 1) + 2 if usable else 0


def kube_reserved_memory(max_pods: int) -> str:
    """What nodeadm reserves for the kubelet for ``max_pods`` (awslabs/amazon-eks-ami at ``81fec2e8``,
    ``nodeadm/internal/kubelet/config.go`` 283-287, 442-444: ``11 * maxPods + 255`` MiB), as managed nodes
    get it. Karpenter would otherwise size it from the VPC CNI's pod count (``types.go`` 150-151, 522-525);
    a key of ``kubelet.kubeReserved`` overrides its own (549-551)."""
    return f"{11 * max_pods + 255}Mi"


@dataclass(frozen=True)
class PoolCapacity:
    """A pool's max pods and its worst case: ``types`` the capacity of every allowed type, ``max_pods`` the
    NodeClass's kubelet max pods (the smallest of theirs), ``worst`` the type with the most pod IPs per
    vCPU and ``worst_nodes`` of it filled up to the CPU limit; ``demand`` the subnet demand at that limit."""

    pool: NodePoolSpec
    types: tuple[NodeCapacity, ...]
    max_pods: int
    smallest: NodeCapacity
    largest: NodeCapacity
    worst: NodeCapacity
    worst_nodes: int
    demand: GroupDemand

    def pods_on(self, node: NodeCapacity) -> int:
        """Pods a node of this type gets: the NodeClass's max pods (never more than the type addresses)."""
        return min(self.max_pods, node.max_pods)

    def pod_ips_on(self, node: NodeCapacity) -> int:
        return max(self.pods_on(node) - node.host_network_pods, 0)

    @property
    def worst_pods(self) -> int:
        return self.worst_nodes * self.pods_on(self.worst)

    @property
    def unused_share(self) -> float:
        """The share of the largest type's addressable pods the NodeClass's max pods leaves unused."""
        return 1 - self.max_pods / self.largest.max_pods if self.largest.max_pods else 0.0


def pool_capacity(pool: NodePoolSpec, addressing: PodAddressing) -> PoolCapacity | None:
    types = allowed_types(pool, addressing)
    if not types:
        return None
    nodes = [addressing.node(t) for t in types]
    max_pods = min(n.max_pods for n in nodes)
    smallest = min(nodes, key=lambda n: (n.max_pods, n.instance_type))
    largest = max(nodes, key=lambda n: (n.max_pods, n.instance_type))

    def per_vcpu(n: NodeCapacity) -> float:
        return max(min(max_pods, n.max_pods) - n.host_network_pods, 0) / (n.vcpus or 1)

    def addresses(n: NodeCapacity) -> capacity.NodeAddresses:
        # The kubelet cap of this NodeClass, not the type's own, bounds the pods and so the addresses.
        return capacity.node_addresses(replace(n, aws_cap=min(n.aws_cap, max_pods)), addressing.pre_allocate)

    fitting = [n for n in nodes if (n.vcpus or 0) <= pool.cpu_limit] or nodes
    worst = max(fitting, key=lambda n: (per_vcpu(n), pool.cpu_limit // (n.vcpus or 1) * addresses(n).addresses,
                                        n.instance_type))
    # Subnet demand: the type that takes the most addresses when the pool is filled with it.
    heaviest = max(fitting, key=lambda n: (pool.cpu_limit // (n.vcpus or 1) * addresses(n).addresses,
                                           addresses(n).blocks, n.instance_type))
    demand = GroupDemand(name=f"karpenter:{pool.name}", max_nodes=pool.cpu_limit // (heaviest.vcpus or 1),
                         per_node=addresses(heaviest))
    return PoolCapacity(pool=pool, types=tuple(nodes), max_pods=max_pods, smallest=smallest, largest=largest,
                        worst=worst, worst_nodes=pool.cpu_limit // (worst.vcpus or 1), demand=demand)


#: Above this share of the largest type's pods left unused by a pool's max pods, the validator warns.
UNUSED_WARNING = 0.5


def pool_problems(pool: NodePoolSpec, addressing: PodAddressing) -> list[tuple[str, str, str, str]]:
    """(key, what, fix, severity) of what is wrong with a pool once Cilium's addressing is known."""
    key = f"karpenterNodePools.{pool.name}"
    cap = pool_capacity(pool, addressing)
    if cap is None:
        mode = " that EC2 delegates prefixes to (Nitro, bare metal)" if addressing.prefix_delegation else ""
        return [(key, "allows no instance type of the instance-type table" + mode + " (categories "
                 f"{list(pool.instance_categories)}, families {list(pool.instance_families) or 'any'}, architectures "
                 f"{list(pool.architectures)}, generation >= {pool.min_generation}, {pool.min_vcpus}-{pool.max_vcpus} "
                 "vCPUs)", "widen instanceCategories, instanceFamilies or the vCPU range", "error")]
    out = []
    smallest_vcpus = min(n.vcpus or 0 for n in cap.types)
    if pool.cpu_limit < smallest_vcpus:
        out.append((f"{key}.cpuLimit", f"{pool.cpu_limit} vCPUs is less than the smallest allowed type "
                    f"({smallest_vcpus} vCPUs): the pool can never launch a node",
                    f"raise cpuLimit to at least {smallest_vcpus} or lower minVcpus", "error"))
    if cap.unused_share > UNUSED_WARNING:
        out.append((key, f"every node of the pool gets max pods {cap.max_pods} (what Cilium addresses on "
                    f"{cap.smallest.instance_type}), which leaves {cap.unused_share:.0%} of "
                    f"{cap.largest.instance_type}'s {cap.largest.max_pods} unused",
                    "narrow the pool (minVcpus/maxVcpus, instanceFamilies) to types of similar ENI limits, or "
                    "split it in two pools", "warning"))
    return out


# --------------------------------------------------------------------------------------
# The custom resources
# --------------------------------------------------------------------------------------


def node_class_name(pool: NodePoolSpec) -> str:
    return pool.name


def node_class_object(pool: NodePoolSpec, *, cluster_name: str, ami_release: str, instance_profile: Any,
                      max_pods: int, tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The pool's EC2NodeClass: the pinned AL2023 release (``al2023@<release>``, pinned like the managed
    nodes: ``nodeclasses.md`` 784-788, 818-821 on ``latest``), the subnets and security groups tagged for
    discovery, an instance profile this stack owns (``spec.instanceProfile``: Karpenter needs no IAM write
    access and leaks none; ``nodeclasses.md`` 735), IMDSv2 with one hop, and the kubelet's max pods.
    ``instance_profile`` may be a Pulumi Output."""
    discovery = [{"tags": {DISCOVERY_TAG: cluster_name}}]
    return {
        "apiVersion": NODECLASS_API_VERSION,
        "kind": NODECLASS_KIND,
        "metadata": {"name": node_class_name(pool)},
        "spec": {
            "amiSelectorTerms": [{"alias": f"al2023@{ami_release}"}],
            "instanceProfile": instance_profile,
            "subnetSelectorTerms": discovery,
            "securityGroupSelectorTerms": [dict(t) for t in discovery],
            "metadataOptions": dict(METADATA_OPTIONS),
            "kubelet": {"maxPods": max_pods, "kubeReserved": {"memory": kube_reserved_memory(max_pods)}},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                "volumeSize": f"{pool.disk_size_gib}Gi", "volumeType": "gp3", "encrypted": True,
                "deleteOnTermination": True}}],
            "tags": {**(tags or {}), "Name": f"{cluster_name}-karpenter-{pool.name}"},
        },
    }


def node_pool_object(pool: NodePoolSpec, type_names: Sequence[str]) -> dict[str, Any]:
    """The NodePool: requirements that state the pool's intent and pin the exact ``type_names`` its
    NodeClass's max pods was computed for, Cilium's startup taint, limits, disruption, expiry. Limits are
    strings: the API server coerces quantities to strings (``nodepools.md`` 448), so numbers would show a
    diff after every refresh."""
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": list(pool.instance_categories)},
        {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": [str(pool.min_generation - 1)]},
        {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": [str(pool.min_vcpus - 1)]},
        {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Lt", "values": [str(pool.max_vcpus + 1)]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": sorted(type_names)},
    ]
    if pool.instance_families:
        requirements.insert(1, {"key": "karpenter.k8s.aws/instance-family", "operator": "In",
                                "values": list(pool.instance_families)})
    return {
        "apiVersion": NODEPOOL_API_VERSION,
        "kind": NODEPOOL_KIND,
        "metadata": {"name": pool.name},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": {"group": NODECLASS_GROUP, "kind": NODECLASS_KIND, "name": node_class_name(pool)},
                    "requirements": requirements,
                    "startupTaints": [dict(STARTUP_TAINT)],
                    "expireAfter": pool.expire_after,
                },
            },
            "disruption": {"consolidationPolicy": pool.consolidation_policy,
                           "consolidateAfter": pool.consolidate_after},
            "limits": {"cpu": str(pool.cpu_limit), "memory": pool.memory_limit},
        },
    }


def required_instance_types(node_pool: Mapping[str, Any]) -> list[str] | None:
    """The instance types a NodePool object pins (``node.kubernetes.io/instance-type In``), None when it
    pins none (then Karpenter may launch any type, including ones the table does not know)."""
    reqs = get_path(node_pool, "spec.template.spec.requirements") or []
    found = None
    for r in reqs if isinstance(reqs, list) else []:
        if isinstance(r, Mapping) and r.get("key") == "node.kubernetes.io/instance-type" and r.get("operator") == "In":
            values = [v for v in r.get("values") or [] if isinstance(v, str)]
            found = values if found is None else [v for v in found if v in values]
    return found


def carries_startup_taint(node_pool: Mapping[str, Any]) -> bool:
    """The NodePool declares Cilium's taint as a startup taint, with the key and effect Karpenter matches on."""
    taints = get_path(node_pool, "spec.template.spec.startupTaints") or []
    return any(isinstance(t, Mapping) and t.get("key") == STARTUP_TAINT["key"]
               and t.get("effect") == STARTUP_TAINT["effect"] for t in (taints if isinstance(taints, list) else []))


# --------------------------------------------------------------------------------------
# AWS: the controller's IAM, the node role, the interruption queue and its rules
# --------------------------------------------------------------------------------------

#: What a Karpenter node's kubelet needs: join the cluster, pull images. The reference template's node role
#: (lines 22-26) adds the VPC CNI's policy, which Cilium's operator (its own IRSA role) makes unnecessary, and
#: SSM, which the managed nodes here do not get either. ECR pull-only, not read-only (commit b25d73e91, #7963).
NODE_ROLE_POLICIES: Mapping[str, str] = MappingProxyType({
    "worker": "arn:{partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr-pull": "arn:{partition}:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
})

#: (source, detail-type) of every event Karpenter 1.14.1 handles from its queue: the reference template's
#: five rules (lines 410-464), matching the controller's parsers (``pkg/controllers/interruption/messages/*/
#: parser.go``: scheduledchange 50,54; spotinterruption, rebalancerecommendation, capacityreservationinterruption
#: 39,43; statechange 49,53).
INTERRUPTION_EVENTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "scheduled-change": ("aws.health", "AWS Health Event"),
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
    "capacity-reservation": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
})
#: The reference template's queue (lines 381-386): messages older than 5 minutes are of no use.
QUEUE_RETENTION_SECONDS = 300


def event_pattern(kind: str) -> dict[str, list[str]]:
    source, detail_type = INTERRUPTION_EVENTS[kind]
    return {"source": [source], "detail-type": [detail_type]}


def queue_policy(queue_arn: str) -> dict[str, Any]:
    """The reference template's queue policy (lines 387-409): EventBridge (and SQS) may send, nothing is
    accepted without TLS."""
    return {
        "Version": "2012-10-17",
        "Id": "EC2InterruptionPolicy",
        "Statement": [
            {"Sid": "AllowEventsToSend", "Effect": "Allow",
             "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
             "Action": "sqs:SendMessage", "Resource": queue_arn},
            {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }


def controller_trust_policy(oidc_provider_arn: str, oidc_issuer: str) -> dict[str, Any]:
    """IRSA: only the controller's service account of this cluster's issuer may assume the role."""
    return irsa_trust_policy(oidc_provider_arn, oidc_issuer, NAMESPACE, SERVICE_ACCOUNT)


def controller_policies(*, cluster_name: str, partition: str, region: str, account_id: str, node_role_arn: str,
                        queue_arn: str) -> dict[str, dict[str, Any]]:
    """The controller's permissions, by policy, as the reference template's split policies (lines 27-380),
    with two differences that narrow them. The instance profile is this stack's (``spec.instanceProfile``), so
    the instance-profile write actions (create, tag, add/remove role, delete) are gone; the reads stay: the
    EC2NodeClass finalizer lists and gets profiles even then (``pkg/controllers/nodeclass/controller.go``
    175-200). Zonal shift is not enabled, so its policy (297-320) is not granted. Everything that creates,
    tags or deletes is conditioned on this cluster's tags."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
             "aws:RequestTag/eks:eks-cluster-name": cluster_name}
    created = ["fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request"]
    cluster_arn = f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"
    return {
        "node-lifecycle": {"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow",
             "Resource": [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*", f"{ec2}:*:subnet/*",
                          f"{ec2}:*:capacity-reservation/*", f"{ec2}:*:placement-group/*"],
             "Action": ["ec2:RunInstances", "ec2:CreateFleet"]},
            {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow",
             "Resource": f"{ec2}:*:launch-template/*", "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
             "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"},
                           "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow",
             "Resource": [f"{ec2}:*:{r}/*" for r in created],
             "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
             "Condition": {"StringEquals": dict(owned), "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow",
             "Resource": [f"{ec2}:*:{r}/*" for r in created], "Action": "ec2:CreateTags",
             "Condition": {"StringEquals": {**owned, "ec2:CreateAction": ["RunInstances", "CreateFleet",
                                                                         "CreateLaunchTemplate"]},
                           "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Resource": f"{ec2}:*:instance/*",
             "Action": "ec2:CreateTags",
             "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"},
                           "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                           "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                           "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name",
                                                                         "karpenter.sh/nodeclaim", "Name"]}}},
            {"Sid": "AllowScopedDeletion", "Effect": "Allow",
             "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
             "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
             "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"},
                           "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
        ]},
        "iam-integration": {"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Resource": node_role_arn, "Action": "iam:PassRole",
             "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}},
        ]},
        "eks-integration": {"Version": "2012-10-17", "Statement": [
            # The API endpoint and the cluster's service CIDR (operator.go 301-306, launchtemplate.go 541).
            {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Resource": cluster_arn,
             "Action": "eks:DescribeCluster"},
        ]},
        "interruption": {"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": queue_arn,
             "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]},
        ]},
        "resource-discovery": {"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*",
             "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                        "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings",
                        "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups",
                        "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
             "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
            {"Sid": "AllowSSMReadActions", "Effect": "Allow",
             "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*", "Action": "ssm:GetParameter"},
            {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
            {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*",
             "Action": "iam:ListInstanceProfiles"},
            {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow",
             "Resource": f"arn:{partition}:iam::{account_id}:instance-profile/*", "Action": "iam:GetInstanceProfile"},
        ]},
    }


# --------------------------------------------------------------------------------------
# Helm values
# --------------------------------------------------------------------------------------


def controller_values(*, cluster_name: Any, region: str, queue_name: Any, role_arn: Any,
                      replicas: int) -> dict[str, Any]:
    """The controller chart's values (keys of its values.yaml only). ``cluster_name``, ``queue_name`` and
    ``role_arn`` may be Outputs. The controller runs on the managed nodes only (the chart's default affinity
    keeps it off Karpenter's own nodes, ``values.yaml`` 93-102, and this adds: only on this project's node
    groups), with the region set so it never needs IMDS (``pkg/operator/operator.go`` 114-121 asks IMDS when
    it is not)."""
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "replicas": replicas,
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": NODEPOOL_LABEL, "operator": "DoesNotExist"},
                                      {"key": MANAGED_NODE_LABEL, "operator": "Exists"}]}]}},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname"}]},
        },
        "controller": {
            "env": [{"name": "AWS_REGION", "value": region}],
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        },
    }


def crd_values() -> dict[str, Any]:
    """The karpenter-crd chart takes nothing but ``additionalAnnotations``; none is needed."""
    return {}
