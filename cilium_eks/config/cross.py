"""Rules across keys, run on the typed model once every key is valid on its own: instance types
against the capacity model, subnets at maxSize, known-bad Cilium combinations, production-only
rules. Each rule appends problems; it never raises."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from .. import capacity, instance_types, karpenter
from ..cilium import helm_values, operator_replicas
from ..known_bad import matching
from ..network import NewVpc
from .model import StackConfig
from .problems import Severity

Add = Callable[[str, str, str, Severity], None]

#: RFC 5737 documentation ranges: placeholders in examples, never a real network.
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


def group_capacity(cfg: StackConfig) -> dict[str, list[capacity.NodeCapacity]]:
    """Per node group, the capacity of each of its instance types the table knows."""
    addressing = cfg.pod_addressing
    return {g.name: [addressing.node(t) for t in (instance_types.lookup(n) for n in g.instance_types) if t]
            for g in cfg.node_groups}


def group_demands(cfg: StackConfig) -> list[capacity.GroupDemand]:
    demands = []
    for name, nodes in group_capacity(cfg).items():
        group = next(g for g in cfg.node_groups if g.name == name)
        if nodes:
            per_node = max((capacity.node_addresses(n, cfg.pod_addressing.pre_allocate) for n in nodes),
                           key=lambda a: (a.addresses, a.blocks))
            demands.append(capacity.GroupDemand(name=name, max_nodes=group.max_size, per_node=per_node))
    # Karpenter's pools at their CPU limit, filled with the type that takes the most addresses.
    if cfg.karpenter.enabled:
        for pool in cfg.karpenter.node_pools:
            cap = karpenter.pool_capacity(pool, cfg.pod_addressing)
            if cap is not None:
                demands.append(cap.demand)
    return demands


def subnet_plan(cfg: StackConfig) -> list[capacity.SubnetCapacity]:
    """The private subnets at maxSize; an adopted VPC's subnets have no size offline."""
    cidrs: list[str | None] = (list(cfg.network.private_subnet_cidrs) if isinstance(cfg.network, NewVpc)
                               else [None] * len(cfg.network.private_subnet_ids))
    return capacity.subnet_capacity(cidrs, group_demands(cfg))


def instance_type_rules(cfg: StackConfig, add: Add) -> None:
    header = instance_types.table_header()
    for g in cfg.node_groups:
        key = f"nodeGroups.{g.name}.instanceTypes"
        known = []
        for name in g.instance_types:
            t = instance_types.lookup(name)
            if t is not None:
                known.append(t)
            elif instance_types.known_family(name):
                close = instance_types.suggestions(name)
                add(key, f"{name!r} is not an EC2 instance type (its family is known, this size is not)",
                    f"use an existing type{', e.g. ' + ' or '.join(close) if close else ''}", "error")
            else:
                add(key, f"{name!r} is not in the instance-type table (generated {header.get('generated')}); its "
                    "ENI limits cannot be checked before deploying",
                    "check the spelling; for a type newer than the table, regenerate it (docs/upgrading.md)",
                    "warning")
        arches = sorted({t.architecture for t in known if t.architecture})
        if len(arches) > 1:
            add(key, f"mixes architectures ({', '.join(f'{t.name}: {t.architecture}' for t in known)}); a managed "
                "node group runs one AMI, built for one architecture",
                "split the group in two, one per architecture", "error")
        if cfg.cilium.prefix_delegation:
            for t in known:
                if not t.supports_prefix_delegation:
                    add(key, f"{t.name} runs on the {t.hypervisor or 'unknown'} hypervisor: EC2 delegates /28 "
                        "prefixes to Nitro and bare-metal instances only, so ciliumPrefixDelegation does nothing there",
                        "use a Nitro type (e.g. t3, m6i, c7i) or set ciliumPrefixDelegation false", "error")
    for name, nodes in group_capacity(cfg).items():
        for n in nodes:
            if n.pod_ips < 1:
                add(f"nodeGroups.{name}.instanceTypes",
                    f"{n.instance_type} addresses no pod in ENI mode ({n.formula})",
                    "use a type with more ENIs or IPs per ENI (e.g. t3.medium or larger)", "error")


def subnet_rules(cfg: StackConfig, add: Add) -> None:
    key = "privateSubnetCidrs" if isinstance(cfg.network, NewVpc) else "existingPrivateSubnetIds"
    for s in subnet_plan(cfg):
        if s.headroom is None:
            continue
        where = f"private subnet {s.index} ({s.cidr})"
        need = f"{s.addresses_needed} addresses"
        if s.blocks_needed:
            need += f" and {s.blocks_needed} /28 blocks (of {s.blocks_available})"
        if s.headroom < 0:
            add(key, f"{where} holds {s.usable} usable addresses, but the node groups at maxSize put {s.nodes} nodes "
                f"there needing {need}",
                "give the private subnets larger CIDRs (vpcCidr / privateSubnetCidrs), lower maxSize, or spread "
                "over more availabilityZoneCount", "error")
        elif s.headroom < capacity.HEADROOM_WARNING:
            add(key, f"{where} keeps only {s.headroom:.0%} headroom at maxSize ({need} of {s.usable})",
                "grow the subnets or lower maxSize before the cluster is busy", "warning")


def node_count_rules(cfg: StackConfig, add: Add) -> None:
    if cfg.node_groups and sum(g.desired_size for g in cfg.node_groups) == 0:
        add("nodeGroups", "every group starts with desiredSize 0 and nothing scales them up: no node will run "
            "Cilium, CoreDNS or any workload" + (" (the demo would wait forever)" if cfg.demo_enabled else ""),
            "give at least one group minSize and desiredSize >= 1", "error")


def known_bad_rules(cfg: StackConfig, add: Add) -> None:
    values = helm_values(cfg.cilium, cluster_name=cfg.cluster_name,
                         operator_replicas=operator_replicas(cfg.total_min_nodes),
                         operator_role_arn="<role>", api_server_host="<host>")
    for entry in matching(cfg.cilium_version, values):
        severity: Severity = "error" if entry.severity == "refuse" or cfg.strict else "warning"
        add(entry.keys[0], f"Cilium {cfg.cilium_version} with these values is a known-bad combination "
            f"({entry.id}, {entry.url}): {entry.what}", entry.alternative, severity)


def production_rules(cfg: StackConfig, add: Add) -> None:
    if not cfg.strict or not cfg.cluster.endpoint_public_access:
        return
    for c in cfg.cluster.public_access_cidrs:
        net = ipaddress.ip_network(c, strict=False)
        for doc in DOCUMENTATION_RANGES:
            if net.version == doc.version and net.overlaps(doc):
                add("publicAccessCidrs", f"{c} is a documentation range (RFC 5737), a placeholder no runner or "
                    "office uses: the API would be unreachable and `pulumi up` would fail after the control plane "
                    "is created",
                    "list the real egress CIDRs of your VPN and of the runner that deploys this stack "
                    "(docs/deploying.md), or set endpointPublicAccess false and deploy from inside the VPC",
                    "deploy")


def observability_rules(cfg: StackConfig, add: Add) -> None:
    """Keys that only mean something with the metrics stack."""
    if cfg.monitoring_enabled:
        return
    if cfg.monitoring.amp_remote_write:
        add("ampRemoteWrite", "remote write to Amazon Managed Prometheus needs the in-cluster Prometheus, and "
            "observability is `none`", "set `observability: prometheus`, or `ampRemoteWrite: false`", "error")
    if cfg.monitoring.grafana_access != "port-forward":
        add("grafanaAccess", f"`{cfg.monitoring.grafana_access}` exposes a Grafana that does not exist: observability "
            "is `none`", "set `observability: prometheus`, or remove grafanaAccess", "error")


def karpenter_rules(cfg: StackConfig, add: Add) -> None:
    """The NodePools against Cilium's addressing: the types each allows, its max pods, its CPU limit."""
    if not cfg.karpenter.enabled:
        return
    for pool in cfg.karpenter.node_pools:
        for key, what, fix, severity in karpenter.pool_problems(pool, cfg.pod_addressing):
            add(key, what, fix, "warning" if severity == "warning" else "error")


RULES = (instance_type_rules, subnet_rules, node_count_rules, known_bad_rules, production_rules, observability_rules,
         karpenter_rules)


def cross_problems(cfg: StackConfig, add: Add) -> None:
    for rule in RULES:
        rule(cfg, add)
