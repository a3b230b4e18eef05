"""The plan's Capacity section: max pods per node group and instance type (with the formula),
and every private subnet's demand at maxSize, from the core capacity model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cilium_eks import capacity, instance_types, karpenter, monitoring
from cilium_eks.config import StackConfig
from cilium_eks.config.cross import group_capacity, subnet_plan


@dataclass(frozen=True)
class GroupRow:
    name: str
    min_size: int
    max_size: int
    nodes: tuple[capacity.NodeCapacity, ...]
    unknown_types: tuple[str, ...]
    expression: str

    @property
    def max_pods(self) -> int | None:
        """The fewest pods a node of the group holds (its smallest instance type)."""
        return min((n.max_pods for n in self.nodes), default=None)


@dataclass(frozen=True)
class MonitoringRow:
    """The metrics stack's pods against the pod slots of the node groups at their minimum size."""

    footprint: monitoring.Footprint
    min_nodes: int
    slots_at_min: int

    @property
    def pods_at_min(self) -> int:
        return self.footprint.pods(self.min_nodes)

    @property
    def left_at_min(self) -> int:
        return self.slots_at_min - self.pods_at_min


@dataclass(frozen=True)
class CapacityReport:
    prefix_delegation: bool
    groups: tuple[GroupRow, ...]
    subnets: tuple[capacity.SubnetCapacity, ...]
    #: With ``observability: prometheus``: the metrics stack's pods and what is left.
    monitoring: MonitoringRow | None = None
    #: With ``karpenterEnabled``: each NodePool's max pods, limits and worst case.
    karpenter: tuple[karpenter.PoolCapacity, ...] = ()


def capacity_report(cfg: StackConfig) -> CapacityReport:
    nodes = group_capacity(cfg)
    rows = []
    for g in cfg.node_groups:
        types = [instance_types.lookup(t) for t in g.instance_types]
        rows.append(GroupRow(
            name=g.name, min_size=g.min_size, max_size=g.max_size, nodes=tuple(nodes[g.name]),
            unknown_types=tuple(t for t in g.instance_types if t not in {n.instance_type for n in nodes[g.name]}),
            expression=cfg.pod_addressing.expression(capacity.group_cap(types))))
    watched = None
    if cfg.monitoring_enabled:
        slots = sum(g.min_size * (g.max_pods or 0) for g in rows)
        watched = MonitoringRow(footprint=monitoring.footprint(monitoring.kube_prometheus_values(storage_class="-")),
                                min_nodes=sum(g.min_size for g in rows), slots_at_min=slots)
    pools = tuple(c for c in (karpenter.pool_capacity(p, cfg.pod_addressing) for p in cfg.karpenter.node_pools)
                  if c is not None) if cfg.karpenter.enabled else ()
    return CapacityReport(prefix_delegation=cfg.cilium.prefix_delegation, groups=tuple(rows),
                          subnets=tuple(subnet_plan(cfg)), monitoring=watched, karpenter=pools)


def _pct(value: float | None) -> str:
    return "unknown (adopted subnet)" if value is None else f"{value:.0%}"


def render_capacity(report: CapacityReport) -> list[str]:
    mode = "prefix delegation (/28 per ENI slot)" if report.prefix_delegation else "secondary IPs"
    lines = [f"Cilium ENI mode with {mode}. A node's kubelet gets nodeadm's maxPodsExpression, evaluated on",
             "the node for its own type; kube-reserved memory is sized from the result.", ""]
    header = ("group", "type", "vCPUs", "ENIs", "IPs/ENI", "pod IPs", "host-net", "cap", "max pods", "limited by")
    rows: list[tuple[str, ...]] = []
    for g in report.groups:
        for n in g.nodes:
            rows.append((g.name, n.instance_type, str(n.vcpus or "?"), str(n.enis_for_pods),
                         str(n.slots_per_eni + 1), str(n.pod_ips), str(n.host_network_pods), str(n.aws_cap),
                         str(n.max_pods), n.limited_by))
        for t in g.unknown_types:
            rows.append((g.name, t, "?", "?", "?", "?", "?", "?", "deploy-time", "not in the table"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append(("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))).rstrip())
    lines += [("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.append("")
    for g in report.groups:
        lines.append(f"  {g.name}: maxPodsExpression `{g.expression}`")
        for n in g.nodes:
            lines.append(f"    {n.instance_type}: {n.formula}")
        if g.max_pods is not None:
            lines.append(f"    at maxSize {g.max_size} nodes: up to {g.max_size * g.max_pods} pods "
                         f"({g.max_size * g.nodes[0].host_network_pods} of them on the host network)")
    if report.monitoring is not None:
        m = report.monitoring
        f = m.footprint
        lines += ["", f"Metrics stack (observability: prometheus): {f.cluster_total} pods in the cluster "
                  f"({', '.join(f'{n} {w}' for w, n in f.cluster_pods)}) + {f.per_node_total} per node "
                  f"({', '.join(w + (' on the host network' if host else '') for w, host in f.per_node)}).",
                  f"  at minSize ({m.min_nodes} nodes): {m.pods_at_min} monitoring pods of {m.slots_at_min} pod slots; "
                  f"{m.left_at_min} left for workloads and the rest of the system"]
    lines += render_karpenter(report)
    lines += ["", "Private subnets at maxSize (a group's nodes spread over the AZs; the busiest AZ takes the rest):"]
    sheader = ("subnet", "CIDR", "nodes", "IPs needed", "usable", "/28 needed", "/28 free", "headroom")
    srows = [(str(s.index), s.cidr or "adopted", str(s.nodes), str(s.addresses_needed),
              str(s.usable) if s.usable is not None else "?", str(s.blocks_needed) if s.blocks_needed else "-",
              str(s.blocks_available) if s.blocks_available is not None else "-", _pct(s.headroom))
             for s in report.subnets]
    swidths = [max(len(r[i]) for r in [sheader, *srows]) for i in range(len(sheader))]
    lines.append(("  " + "  ".join(h.ljust(w) for h, w in zip(sheader, swidths, strict=True))).rstrip())
    lines += [("  " + "  ".join(c.ljust(w) for c, w in zip(r, swidths, strict=True))).rstrip() for r in srows]
    return lines


def render_karpenter(report: CapacityReport) -> list[str]:
    """Each NodePool: its limits, the one max pods its EC2NodeClass gives every node (the smallest Cilium
    addresses on its types), and its worst case: the type with the most pod IPs per vCPU, filled up to the CPU
    limit, and what that takes from the subnets."""
    if not report.karpenter:
        return []
    lines = ["", "Karpenter NodePools: every node gets its EC2NodeClass's kubelet maxPods, the smallest max pods",
             "Cilium addresses on any type the pool allows (the pool pins exactly those types); kube-reserved memory",
             "follows it."]
    for c in report.karpenter:
        p = c.pool
        families = "; " + ", ".join(p.instance_families) if p.instance_families else ""
        lines += [f"  {p.name}: limits {p.cpu_limit} vCPUs, {p.memory_limit}; {len(c.types)} instance types "
                  f"({', '.join(p.instance_categories)}{families}; {', '.join(p.architectures)}; "
                  f"{p.min_vcpus}-{p.max_vcpus} vCPUs; {', '.join(p.capacity_types)})",
                  f"    max pods {c.max_pods} (= {c.smallest.instance_type}: {c.smallest.formula})",
                  f"    largest type {c.largest.instance_type} addresses {c.largest.max_pods}: "
                  f"{c.unused_share:.0%} of its pods unused",
                  f"    worst case: {c.worst_nodes} x {c.worst.instance_type} ({c.worst.vcpus} vCPUs, "
                  f"{c.pod_ips_on(c.worst)} pod IPs each, the most per vCPU) = {c.worst_pods} pods at the CPU limit",
                  f"    subnets: {c.demand.max_nodes} nodes x {c.demand.per_node.addresses} addresses = "
                  f"{c.demand.max_nodes * c.demand.per_node.addresses} (counted below as spread over the AZs; "
                  "Karpenter puts nodes where the pending pods' zones allow, so one AZ may take them all)"]
    return lines


def karpenter_json(c: karpenter.PoolCapacity) -> dict[str, Any]:
    p = c.pool
    return {"name": p.name, "cpu_limit": p.cpu_limit, "memory_limit": p.memory_limit,
            "instance_types": [n.instance_type for n in c.types], "max_pods": c.max_pods,
            "smallest_type": c.smallest.instance_type, "largest_type": c.largest.instance_type,
            "largest_type_max_pods": c.largest.max_pods, "unused_share": c.unused_share,
            "worst_type": c.worst.instance_type, "worst_nodes": c.worst_nodes, "worst_pods": c.worst_pods,
            "subnet_nodes": c.demand.max_nodes, "addresses_per_node": c.demand.per_node.addresses}


def capacity_json(report: CapacityReport) -> dict[str, Any]:
    return {
        "prefix_delegation": report.prefix_delegation,
        "node_groups": [
            {"name": g.name, "min_size": g.min_size, "max_size": g.max_size, "max_pods_expression": g.expression,
             "unknown_instance_types": list(g.unknown_types),
             "instance_types": [{"type": n.instance_type, "vcpus": n.vcpus, "enis_for_pods": n.enis_for_pods,
                                 "ips_per_eni": n.slots_per_eni + 1, "addressable_ips": n.addressable_ips,
                                 "reserved_ips": n.reserved_ips, "pod_ips": n.pod_ips,
                                 "host_network_pods": n.host_network_pods, "aws_cap": n.aws_cap,
                                 "max_pods": n.max_pods, "limited_by": n.limited_by, "formula": n.formula}
                                for n in g.nodes]}
            for g in report.groups],
        "monitoring": None if report.monitoring is None else {
            "cluster_pods": dict(report.monitoring.footprint.cluster_pods),
            "per_node": [w for w, _ in report.monitoring.footprint.per_node],
            "per_node_host_network": report.monitoring.footprint.per_node_host_network,
            "min_nodes": report.monitoring.min_nodes, "pods_at_min": report.monitoring.pods_at_min,
            "slots_at_min": report.monitoring.slots_at_min, "left_at_min": report.monitoring.left_at_min},
        "karpenter_node_pools": [karpenter_json(c) for c in report.karpenter],
        "subnets": [{"index": s.index, "cidr": s.cidr, "nodes_at_max": s.nodes, "addresses_needed": s.addresses_needed,
                     "usable": s.usable, "prefix_blocks_needed": s.blocks_needed,
                     "prefix_blocks_available": s.blocks_available, "headroom": s.headroom}
                    for s in report.subnets],
    }


def capacity_svg(report: CapacityReport, title: str) -> str:
    """A small bar chart of each subnet's use at maxSize (no plotting library needed)."""
    bar_w, gap, height, top, left = 60, 30, 200, 40, 50
    width = left + len(report.subnets) * (bar_w + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 60}" '
             f'font-family="Helvetica" font-size="11">',
             f'<text x="{left}" y="20" font-size="13">{title}: private subnet use at maxSize</text>',
             f'<line x1="{left}" y1="{top + height}" x2="{width}" y2="{top + height}" stroke="#333"/>']
    warn_y = top + height * capacity.HEADROOM_WARNING
    parts.append(f'<line x1="{left}" y1="{warn_y}" x2="{width}" y2="{warn_y}" stroke="#c0392b" '
                 f'stroke-dasharray="4 3"/><text x="2" y="{warn_y + 4}" fill="#c0392b">80%</text>')
    for i, s in enumerate(report.subnets):
        x = left + gap + i * (bar_w + gap)
        used = 1 - s.headroom if s.headroom is not None else 0.0
        h = max(min(used, 1.0), 0.0) * height
        color = "#27ae60" if s.headroom is not None and s.headroom >= capacity.HEADROOM_WARNING else "#c0392b"
        parts.append(f'<rect x="{x}" y="{top + height - h}" width="{bar_w}" height="{h}" fill="{color}"/>')
        parts.append(f'<text x="{x}" y="{top + height + 15}">{s.cidr or "adopted"}</text>')
        parts.append(f'<text x="{x}" y="{top + height + 30}">{_pct(s.headroom)} free</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
