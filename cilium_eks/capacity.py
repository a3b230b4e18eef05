"""The pod-IP capacity model: how many pods a node can address in Cilium's ENI mode, the max pods
its kubelet must get, and whether the subnets hold every node group at ``maxSize``.

Pure functions over the instance-type table (``instance_types``) and plain values. The
program (the kubelet's max pods), the config validator (refusals), the offline plan (the
Capacity section), the policy pack and ``verify`` (live drift) all read these.

Facts, with their sources:

* Addresses Cilium can allocate on a node: ``(ENIs - firstInterfaceIndex) x (IPv4 per ENI - 1)``,
  times 16 with prefix delegation: each ENI's primary address is not allocatable and each
  other slot carries one /28 (``GetMaximumAllocatableIPv4`` in cilium/cilium
  ``pkg/aws/ipam/node.go``; ``option.ENIPDBlockSizeIPv4 = 16``). ``firstInterfaceIndex``
  defaults to 0 (chart ``eni.nodeSpec.firstInterfaceIndex: ~``, agent default
  ``defaults.ENIFirstInterfaceIndex = 0``): the primary ENI's secondary addresses carry pods.
* The agent takes two of those addresses itself: the ``cilium_host`` router IP and the health
  endpoint IP (on by default: ``healthChecking``, ``endpointHealthChecking.enabled``), plus an
  ingress IP when Envoy config, ingress or Gateway API is enabled.
* Host-network pods take no pod IP but count toward the kubelet's max pods: the Cilium agent and
  the cilium-envoy DaemonSet (``hostNetwork: true`` in the 1.20.0 chart's
  ``templates/cilium-agent/daemonset.yaml`` and ``templates/cilium-envoy/daemonset.yaml``), and
  kube-proxy unless Cilium replaces it; with the metrics stack, node-exporter too
  (``PodAddressing.host_network_extra``, ``cilium_eks/monitoring.py``).
* EKS caps managed nodes at 110 pods below 30 vCPUs and 250 from 30 (EKS user guide, "Amazon EKS
  recommended maximum Pods for each Amazon EC2 instance type"); nodeadm applies no cap to a
  ``maxPodsExpression``, so the expression carries it.
* nodeadm evaluates ``spec.kubelet.maxPodsExpression`` (CEL over ``default_enis``,
  ``ips_per_eni``, ``max_pods``) on each node and sizes ``kubeReserved`` memory from the result
  (awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/eni_max_pods.go``, ``config.go``
  ``withDefaultReservedResources``; ``nodeadm/doc/examples.md``).
* AWS reserves five addresses of every subnet (the first four and the last).
* The operator keeps ``pre-allocate`` addresses (default 8, ``defaults.IPAMPreAllocation``)
  free on every node beyond those in use.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .instance_types import InstanceType

SUBNET_RESERVED_ADDRESSES = 5
PREFIX_ADDRESSES = 16
AGENT_RESERVED_IPS = 2
DEFAULT_PRE_ALLOCATE = 8
#: Below this much free room in a subnet at maxSize, the validator warns.
HEADROOM_WARNING = 0.20
SMALL_NODE_CAP = 110
LARGE_NODE_CAP = 250
LARGE_NODE_VCPUS = 30


@dataclass(frozen=True)
class PodAddressing:
    """How Cilium addresses pods on every node (from ``CiliumOptions.pod_addressing``): what the
    capacity model and the nodes' max-pods expression need, nothing else."""

    prefix_delegation: bool = False
    reserved_ips: int = AGENT_RESERVED_IPS
    host_network_pods: int = 3
    first_interface_index: int = 0
    pre_allocate: int = DEFAULT_PRE_ALLOCATE
    #: Host-network pods of other releases on every node (node-exporter of the metrics stack): set by
    #: the stack's configuration (``StackConfig.pod_addressing``), never read from Cilium's values.
    host_network_extra: int = 0

    @property
    def host_network_total(self) -> int:
        return self.host_network_pods + self.host_network_extra

    def node(self, t: InstanceType) -> NodeCapacity:
        return node_capacity(t, prefix_delegation=self.prefix_delegation, host_network_pods=self.host_network_total,
                             reserved_ips=self.reserved_ips, first_interface_index=self.first_interface_index)

    def expression(self, cap: int) -> str:
        return max_pods_expression(prefix_delegation=self.prefix_delegation, reserved_ips=self.reserved_ips,
                                   host_network_pods=self.host_network_total, cap=cap,
                                   first_interface_index=self.first_interface_index)


def group_cap(types: Sequence[InstanceType | None]) -> int:
    """The max-pods cap of a group: the smallest of its types' (110 when a type is unknown)."""
    return min((aws_max_pods_cap(t.vcpus if t else None) for t in types), default=SMALL_NODE_CAP)


def aws_max_pods_cap(vcpus: int | None) -> int:
    """EKS's recommended cap: 110 below 30 vCPUs, 250 from 30 (110 when the vCPUs are unknown)."""
    return LARGE_NODE_CAP if vcpus is not None and vcpus >= LARGE_NODE_VCPUS else SMALL_NODE_CAP


@dataclass(frozen=True)
class NodeCapacity:
    """What one node of an instance type can address, and the max pods its kubelet gets."""

    instance_type: str
    vcpus: int | None
    enis_for_pods: int
    slots_per_eni: int
    prefix_delegation: bool
    addressable_ips: int
    reserved_ips: int
    host_network_pods: int
    aws_cap: int

    @property
    def ips_per_slot(self) -> int:
        return PREFIX_ADDRESSES if self.prefix_delegation else 1

    @property
    def pod_ips(self) -> int:
        """Addresses left for pods once the agent has taken its own."""
        return max(self.addressable_ips - self.reserved_ips, 0)

    @property
    def max_pods(self) -> int:
        return min(self.aws_cap, self.pod_ips + self.host_network_pods)

    @property
    def limited_by(self) -> str:
        return "AWS max-pods cap" if self.pod_ips + self.host_network_pods > self.aws_cap else "pod IPs"

    @property
    def formula(self) -> str:
        per_slot = f" x {PREFIX_ADDRESSES} (/28 prefixes)" if self.prefix_delegation else ""
        return (f"{self.enis_for_pods} ENIs x ({self.slots_per_eni + 1} - 1) slots{per_slot} = {self.addressable_ips} "
                f"addresses - {self.reserved_ips} (cilium_host, health) = {self.pod_ips} pod IPs; "
                f"+ {self.host_network_pods} host-network pods = {self.pod_ips + self.host_network_pods}; "
                f"AWS cap {self.aws_cap} ({'>=' if self.aws_cap == LARGE_NODE_CAP else '<'} {LARGE_NODE_VCPUS} vCPUs)"
                f" -> max pods {self.max_pods}")


def node_capacity(t: InstanceType, *, prefix_delegation: bool, host_network_pods: int,
                  reserved_ips: int = AGENT_RESERVED_IPS, first_interface_index: int = 0) -> NodeCapacity:
    """``prefix_delegation`` is what the stack asks for; it only takes effect where EC2 delegates
    prefixes (Nitro, bare metal). The validator refuses the combination that would not."""
    delegated = prefix_delegation and t.supports_prefix_delegation
    enis = max(t.enis - first_interface_index, 0)
    slots = max(t.ipv4_per_eni - 1, 0)
    return NodeCapacity(
        instance_type=t.name, vcpus=t.vcpus, enis_for_pods=enis, slots_per_eni=slots, prefix_delegation=delegated,
        addressable_ips=enis * slots * (PREFIX_ADDRESSES if delegated else 1), reserved_ips=reserved_ips,
        host_network_pods=host_network_pods, aws_cap=aws_max_pods_cap(t.vcpus))


def max_pods_expression(*, prefix_delegation: bool, reserved_ips: int, host_network_pods: int, cap: int,
                        first_interface_index: int = 0) -> str:
    """The nodeadm ``maxPodsExpression`` that gives every node the max pods of ``node_capacity``
    for its own instance type (nodeadm binds ``default_enis`` and ``ips_per_eni`` on the node)."""
    enis = "default_enis" if first_interface_index == 0 else f"(default_enis - {first_interface_index})"
    addresses = f"{enis} * (ips_per_eni - 1)" + (f" * {PREFIX_ADDRESSES}" if prefix_delegation else "")
    pods = f"{addresses} - {reserved_ips} + {host_network_pods}"
    return f"{pods} < {cap} ? {pods} : {cap}"


# --------------------------------------------------------------------------------------
# Subnets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeAddresses:
    """Subnet addresses one node takes when its pods are full: ENI primaries, pod and agent
    addresses, the operator's pre-allocation; with prefix delegation, whole /28 blocks."""

    addresses: int
    enis: int
    prefixes: int

    @property
    def blocks(self) -> int:
        """/28 blocks the node can spoil at worst: its prefixes, and one per ENI primary address,
        which EC2 places anywhere in the subnet."""
        return self.prefixes + self.enis if self.prefixes else 0


def node_addresses(node: NodeCapacity, pre_allocate: int = DEFAULT_PRE_ALLOCATE) -> NodeAddresses:
    pods_with_ips = max(node.max_pods - node.host_network_pods, 0)
    wanted = min(node.addressable_ips, pods_with_ips + node.reserved_ips + pre_allocate)
    if node.slots_per_eni == 0:
        return NodeAddresses(addresses=1, enis=1, prefixes=0)
    if node.prefix_delegation:
        prefixes = math.ceil(wanted / PREFIX_ADDRESSES)
        enis = max(math.ceil(prefixes / node.slots_per_eni), 1)
        return NodeAddresses(addresses=prefixes * PREFIX_ADDRESSES + enis, enis=enis, prefixes=prefixes)
    enis = max(math.ceil(wanted / node.slots_per_eni), 1)
    return NodeAddresses(addresses=wanted + enis, enis=enis, prefixes=0)


def usable_addresses(cidr: str) -> int:
    net = ipaddress.ip_network(cidr)
    return net.num_addresses - SUBNET_RESERVED_ADDRESSES


def prefix_blocks(cidr: str) -> int:
    """/28 blocks EC2 can delegate from a subnet: all of them but the first and the last, which
    hold addresses AWS reserves."""
    net = ipaddress.ip_network(cidr)
    if net.prefixlen > 28:
        return 0
    return max(2 ** (28 - net.prefixlen) - 2, 0)


@dataclass(frozen=True)
class GroupDemand:
    """A group of nodes spread over the subnets: at most ``max_nodes``, each taking at most
    ``per_node`` (its most address-hungry instance type)."""

    name: str
    max_nodes: int
    per_node: NodeAddresses


@dataclass(frozen=True)
class SubnetCapacity:
    index: int
    cidr: str | None
    nodes: int
    addresses_needed: int
    blocks_needed: int
    usable: int | None
    blocks_available: int | None

    @property
    def headroom(self) -> float | None:
        """The smallest share of free room left at maxSize (addresses, and /28 blocks with
        prefix delegation); None when the subnet's size is not known (an adopted subnet)."""
        if self.usable is None:
            return None
        shares = [1 - self.addresses_needed / self.usable] if self.usable > 0 else [-1.0]
        if self.blocks_needed and self.blocks_available is not None:
            shares.append(1 - self.blocks_needed / self.blocks_available if self.blocks_available else -1.0)
        return min(shares)

    @property
    def fits(self) -> bool | None:
        h = self.headroom
        return None if h is None else h >= 0


def subnet_capacity(subnet_cidrs: Sequence[str | None], groups: Sequence[GroupDemand]) -> list[SubnetCapacity]:
    """Every subnet's demand when every group is at its maximum. A managed node group balances
    its nodes over its subnets' AZs, so the busiest subnet takes ``ceil(max / subnets)``."""
    count = len(subnet_cidrs)
    out: list[SubnetCapacity] = []
    for i, cidr in enumerate(subnet_cidrs):
        nodes = addresses = blocks = 0
        for g in groups:
            n = math.ceil(g.max_nodes / count) if count else 0
            nodes += n
            addresses += n * g.per_node.addresses
            blocks += n * g.per_node.blocks
        out.append(SubnetCapacity(
            index=i, cidr=cidr, nodes=nodes, addresses_needed=addresses, blocks_needed=blocks,
            usable=usable_addresses(cidr) if cidr else None,
            blocks_available=prefix_blocks(cidr) if cidr and blocks else None))
    return out
