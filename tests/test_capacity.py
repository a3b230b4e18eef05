"""The pod-IP capacity model (cilium_eks/capacity.py): worked examples derived by hand from the
instance-type table and the formulas, properties that must hold for every type, and the
validator's verdict on subnets checked against an independent, address-by-address count."""

from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cilium_eks import capacity, instance_types
from cilium_eks.capacity import PodAddressing
from cilium_eks.config import ConfigError, parse_config
from cilium_eks.instance_types import InstanceType

#: Default addressing of this program: secondary IPs, cilium_host + health reserved, and three
#: host-network pods per node (the Cilium agent, cilium-envoy, kube-proxy).
DEFAULT = PodAddressing()
DELEGATED = PodAddressing(prefix_delegation=True)


def max_pods(type_name: str, addressing: PodAddressing = DEFAULT) -> int:
    t = instance_types.lookup(type_name)
    assert t is not None, type_name
    return addressing.node(t).max_pods


# --------------------------------------------------------------------------------------
# Worked examples (table: aws/amazon-vpc-cni-k8s vpc_ip_resource_limit.go, karpenter instance-types.md)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "secondary", "delegated"), [
    # t3.large: 3 ENIs x 12 IPv4, 2 vCPUs, Nitro.
    #   secondary: 3 x (12 - 1) = 33 addresses - 2 reserved = 31 pod IPs + 3 host-network = 34 (< 110)
    #   prefixes:  33 slots x 16 = 528 - 2 = 526 + 3 = 529 -> capped at 110 (2 vCPUs < 30)
    ("t3.large", 34, 110),
    # m6i.large: 3 ENIs x 10 IPv4, 2 vCPUs. secondary: 3 x 9 = 27 - 2 = 25 + 3 = 28;
    #   prefixes: 27 x 16 = 432 - 2 + 3 = 433 -> 110
    ("m6i.large", 28, 110),
    # m6i.xlarge: 4 ENIs x 15 IPv4, 4 vCPUs. secondary: 4 x 14 = 56 - 2 = 54 + 3 = 57;
    #   prefixes: 56 x 16 = 896 - 2 + 3 = 897 -> 110
    ("m6i.xlarge", 57, 110),
    # c7i.xlarge: 4 ENIs x 15 IPv4, 4 vCPUs: the same arithmetic as m6i.xlarge.
    ("c7i.xlarge", 57, 110),
    # m5.4xlarge: 8 ENIs x 30 IPv4, 16 vCPUs. secondary: 8 x 29 = 232 - 2 + 3 = 233 -> capped at 110
    #   (16 vCPUs < 30); prefixes: 232 x 16 -> 110
    ("m5.4xlarge", 110, 110),
    # t2.large: 3 ENIs x 12 IPv4, Xen. secondary: 34 as t3.large; EC2 delegates no prefix to Xen, so
    #   asking for prefix delegation changes nothing (and the validator refuses the combination).
    ("t2.large", 34, 34),
    # m5.8xlarge: 8 ENIs x 30 IPv4, 32 vCPUs: the 250 cap. secondary: 232 - 2 + 3 = 233 (< 250);
    #   prefixes: 232 x 16 - 2 + 3 -> 250
    ("m5.8xlarge", 233, 250),
])
def test_worked_examples(type_name: str, secondary: int, delegated: int):
    assert max_pods(type_name) == secondary
    assert max_pods(type_name, DELEGATED) == delegated


def test_the_table_holds_the_limits_the_examples_read():
    t = instance_types.lookup("m6i.large")
    assert (t.enis, t.ipv4_per_eni, t.vcpus, t.architecture, t.hypervisor) == (3, 10, 2, "amd64", "nitro")
    assert instance_types.lookup("t2.large").hypervisor == "xen"
    assert instance_types.lookup("m7g.large").architecture == "arm64"
    assert {"sources", "generated", "command"} <= set(instance_types.table_header())


def test_kube_proxy_replacement_and_the_envoy_daemonset_change_the_host_network_pods():
    # t3.large: 31 pod IPs; without kube-proxy 2 host-network pods (33), without envoy as well 1 (32).
    assert max_pods("t3.large", PodAddressing(host_network_pods=2)) == 33
    assert max_pods("t3.large", PodAddressing(host_network_pods=1)) == 32


def test_a_first_interface_index_of_1_keeps_eth0_out():
    # t3.large with eth0 excluded: 2 ENIs x 11 = 22 - 2 = 20 + 3 = 23.
    assert max_pods("t3.large", PodAddressing(first_interface_index=1)) == 23


def test_the_expression_nodeadm_evaluates_gives_the_models_max_pods():
    """Evaluate the CEL expression the way nodeadm binds it (default_enis, ips_per_eni) for every
    type of the table, with a tiny evaluator for the only form the model writes."""
    for addressing in (DEFAULT, DELEGATED, PodAddressing(host_network_pods=2, first_interface_index=1)):
        for t in list(instance_types.table().values())[::7]:
            cap = capacity.aws_max_pods_cap(t.vcpus)
            expr = addressing.expression(cap)
            pods, _, rest = expr.partition(" < ")
            env = {"default_enis": t.enis, "ips_per_eni": t.ipv4_per_eni}
            value = eval(pods, {"__builtins__": {}}, env)
            assert rest.endswith(f" : {cap}")
            evaluated = value if value < cap else cap
            expected = addressing.node(t).max_pods if (t.supports_prefix_delegation or
                                                       not addressing.prefix_delegation) else None
            if expected is not None:
                assert evaluated == expected, (t.name, expr)


# --------------------------------------------------------------------------------------
# Properties over every type of the table
# --------------------------------------------------------------------------------------

TYPES = st.sampled_from(sorted(instance_types.table().values(), key=lambda t: t.name))
ADDRESSING = st.builds(PodAddressing, prefix_delegation=st.booleans(), reserved_ips=st.integers(2, 3),
                       host_network_pods=st.integers(1, 3), first_interface_index=st.integers(0, 1))


@given(t=TYPES, addressing=ADDRESSING)
def test_the_model_never_promises_more_pods_than_addresses(t: InstanceType, addressing: PodAddressing):
    node = addressing.node(t)
    pods_with_ips = node.max_pods - node.host_network_pods
    assert pods_with_ips <= node.pod_ips <= max(node.addressable_ips - node.reserved_ips, 0)
    assert node.max_pods <= node.aws_cap


@given(t=TYPES, addressing=ADDRESSING, more_enis=st.integers(0, 4), more_ips=st.integers(0, 10))
def test_more_enis_or_addresses_never_lower_capacity(t: InstanceType, addressing: PodAddressing, more_enis: int,
                                                      more_ips: int):
    bigger = InstanceType(**{**t.__dict__, "enis": t.enis + more_enis, "ipv4_per_eni": t.ipv4_per_eni + more_ips})
    assert addressing.node(bigger).max_pods >= addressing.node(t).max_pods
    assert addressing.node(bigger).addressable_ips >= addressing.node(t).addressable_ips


@given(t=TYPES)
def test_prefixes_never_lower_capacity(t: InstanceType):
    assert DELEGATED.node(t).max_pods >= DEFAULT.node(t).max_pods


# --------------------------------------------------------------------------------------
# The validator's subnet verdict against an independent count
# --------------------------------------------------------------------------------------


def brute_force_addresses(t: InstanceType, addressing: PodAddressing) -> int:
    """Addresses one full node takes, counted one at a time: the pod and agent addresses plus the
    operator's pre-allocation go into ENI slots in order; every ENI opened costs its own primary
    address; with prefixes each slot is a whole /28."""
    node = addressing.node(t)
    wanted = min(node.addressable_ips, (node.max_pods - node.host_network_pods) + node.reserved_ips
                 + addressing.pre_allocate)
    enis, used_in_eni, taken = 0, 0, 0
    per_slot = 16 if node.prefix_delegation else 1
    allocated = 0
    while allocated < wanted:
        if enis == 0 or used_in_eni == node.slots_per_eni:
            enis += 1
            used_in_eni = 0
            taken += 1  # the ENI's primary address
        used_in_eni += 1
        taken += per_slot
        allocated += per_slot
    return max(taken, 1)


@given(t=TYPES, addressing=ADDRESSING)
def test_the_model_counts_a_full_nodes_addresses_as_the_brute_force_does(t: InstanceType, addressing: PodAddressing):
    assert capacity.node_addresses(addressing.node(t), addressing.pre_allocate).addresses == \
        brute_force_addresses(t, addressing)


@pytest.mark.parametrize("delegated", [False, True])
def test_the_verdict_flips_exactly_at_the_last_address(delegated: bool):
    # One m6i.large group over 2 AZs: the busiest subnet takes ceil(max / 2) nodes of
    # brute_force_addresses each. Grow max until a /24 (251 usable) no longer holds them.
    addressing = PodAddressing(prefix_delegation=delegated)
    per_node = brute_force_addresses(instance_types.lookup("m6i.large"), addressing)
    fits_max = 2 * (251 // per_node)
    for max_size, refused in ((fits_max, False), (fits_max + 2, True)):
        raw = {"cilium-eks:environment": "development", "cilium-eks:vpcCidr": "10.0.0.0/22",
               "cilium-eks:privateSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24"],
               "cilium-eks:publicSubnetCidrs": ["10.0.2.0/24", "10.0.3.0/24"],
               "cilium-eks:publicAccessCidrs": ["0.0.0.0/0"], "cilium-eks:ciliumPrefixDelegation": delegated,
               "cilium-eks:nodeGroups": {"g": {"instanceTypes": ["m6i.large"], "minSize": 1, "desiredSize": 1,
                                               "maxSize": max_size}}}
        try:
            parse_config(raw, project="cilium-eks", stack="t", region="eu-west-1")
            assert not refused, f"{max_size} nodes of {per_node} addresses should not fit 2 x 251"
        except ConfigError as exc:
            assert refused, str(exc)
            assert any("usable addresses" in p.what for p in exc.problems)


GROUP_TYPES = ["t3.large", "m6i.large", "m6i.xlarge", "c7i.xlarge", "m5.4xlarge", "m7g.large"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.integers(20, 23), azs=st.integers(2, 3), delegated=st.booleans(),
       groups=st.lists(st.tuples(st.sampled_from(GROUP_TYPES), st.integers(1, 120)), min_size=1, max_size=3))
def test_the_validators_subnet_verdict_agrees_with_a_brute_force_count(prefix: int, azs: int, delegated: bool,
                                                                       groups: list[tuple[str, int]]):
    vpc = f"10.0.0.0/{prefix}"
    node_groups = {f"g{i}": {"instanceTypes": [t], "minSize": 1, "desiredSize": 1, "maxSize": m}
                   for i, (t, m) in enumerate(groups)}
    raw = {"cilium-eks:environment": "development", "cilium-eks:vpcCidr": vpc,
           "cilium-eks:availabilityZoneCount": azs, "cilium-eks:publicAccessCidrs": ["0.0.0.0/0"],
           "cilium-eks:ciliumPrefixDelegation": delegated, "cilium-eks:nodeGroups": node_groups}
    addressing = PodAddressing(prefix_delegation=delegated)
    try:
        cfg = parse_config(raw, project="cilium-eks", stack="t", region="eu-west-1")
        refused = False
    except ConfigError as exc:
        refused = any(p.key == "cilium-eks:privateSubnetCidrs" and "usable addresses" in p.what for p in exc.problems)
        if not refused:  # refused for another reason (e.g. a PD warning cannot refuse): not this property
            return
        cfg = None
    subnets = list(cfg.network.private_subnet_cidrs) if cfg else None
    if subnets is None:
        from cilium_eks.network import default_subnet_cidrs

        subnets = list(default_subnet_cidrs(vpc, azs)[0])
    fits = True
    for cidr in subnets:
        usable = ipaddress.ip_network(cidr).num_addresses - 5
        blocks = 2 ** (28 - ipaddress.ip_network(cidr).prefixlen) - 2
        need = need_blocks = 0
        for t_name, max_size in groups:
            t = instance_types.lookup(t_name)
            nodes = math.ceil(max_size / len(subnets))
            need += nodes * brute_force_addresses(t, addressing)
            node = addressing.node(t)
            if node.prefix_delegation:
                per = capacity.node_addresses(node, addressing.pre_allocate)
                need_blocks += nodes * (per.prefixes + per.enis)
        fits = fits and need <= usable and (need_blocks == 0 or need_blocks <= blocks)
    assert refused == (not fits), (vpc, azs, delegated, groups, subnets)
