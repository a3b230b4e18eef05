"""karpenter-nodepools: every Karpenter NodePool declares Cilium's agent-not-ready taint as a startup
taint, and the kubelet of its nodes admits exactly the pods Cilium can address on the instance types
it allows (``core/karpenter.py``, the model the program builds the objects from).

Read on the preview's real values: the NodePools and EC2NodeClasses (their ``spec``), the Cilium
release's values (how it addresses pods) and a kube-prometheus-stack release's (its node-exporter adds
a host-network pod on every node, as ``node-capacity`` counts it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from ..core import instance_types, monitoring
from ..core.capacity import PodAddressing
from ..core.cilium import as_int, chart_name, pod_addressing
from ..core.karpenter import (
    NODECLASS_KIND,
    NODECLASS_TYPE,
    NODEPOOL_TYPE,
    STARTUP_TAINT,
    carries_startup_taint,
    eni_limited_pods,
    max_pods_for,
    required_instance_types,
)
from ..props import UNKNOWN, Deferred, elements, explain, get, path, plain
from ..resources import HELM_RELEASE, is_cilium_release
from ..view import StackView

_TAINT = f"{STARTUP_TAINT['key']}={STARTUP_TAINT['value']}:{STARTUP_TAINT['effect']}"


def _addressing(view: StackView, deferred: Deferred) -> PodAddressing | None:
    releases = [r for r in view.resources if is_cilium_release(r.resource_type, r.props)]
    if len(releases) != 1:
        return None  # nodes-join-after-cilium reports a missing release
    values = plain(get(releases[0].props, "values", {}))
    if values is UNKNOWN or not isinstance(values, Mapping):
        deferred.unknown(f"{releases[0].name}.values")
        return None
    extra = 0  # host-network pods of other releases on every node, as node-capacity counts them
    for r in view.resources:
        if r.resource_type == HELM_RELEASE and chart_name(get(r.props, "chart")) == monitoring.CHART:
            other = plain(get(r.props, "values", {}))
            if other is UNKNOWN or not isinstance(other, Mapping):
                deferred.unknown(f"{r.name}.values")
                return None
            extra += monitoring.host_network_pods(other)
    return replace(pod_addressing(values), host_network_extra=extra)


def _name(r: PolicyResource) -> Any:
    return path(r.props, "metadata.name")


def validate_karpenter_nodepools(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    pools = view.of_type(NODEPOOL_TYPE)
    if not pools:
        return
    deferred = Deferred()
    classes = {_name(c): c for c in view.of_type(NODECLASS_TYPE) if isinstance(_name(c), str)}
    addressing = _addressing(view, deferred)
    for pool in pools:
        label = f"NodePool {_name(pool) if isinstance(_name(pool), str) else pool.name}"
        spec = plain(get(pool.props, "spec"))
        if spec is UNKNOWN:
            deferred.unknown(f"{pool.name}.spec")
            continue
        obj = {"spec": spec}
        taints = path(obj, "spec.template.spec.startupTaints")
        if taints is UNKNOWN or any(t is UNKNOWN for t in elements(taints)):
            deferred.unknown(f"{pool.name}.spec.template.spec.startupTaints")
        elif not carries_startup_taint(obj):
            found = [f"{get(t, 'key')}:{get(t, 'effect')}" for t in elements(taints)]
            report_violation(explain(
                f"{label} does not declare Cilium's taint {_TAINT} as a startup taint "
                f"(found: {', '.join(found) or 'none'}).",
                "Karpenter then takes the taint Cilium puts on every new node for a reason its pods cannot run "
                "there and launches more nodes for the same pods (68-72% redundant node claims measured in "
                "chanzuckerberg/cztack#895); it matches startup taints by key and effect, so another effect "
                "does not count",
                f"add startupTaints: [{{key: {STARTUP_TAINT['key']}, value: \"true\", effect: NoExecute}}] "
                "(node_pool_object in cilium_eks/karpenter.py)"), pool.urn)

        types = required_instance_types(obj)
        if types is None:
            report_violation(explain(
                f"{label} pins no instance types (no node.kubernetes.io/instance-type In requirement).",
                "Karpenter may then launch any type that fits its other requirements, including types the capacity "
                "model does not know: no single kubelet max pods of its EC2NodeClass is then known to be safe",
                "list the exact types the EC2NodeClass's max pods was computed for (node_pool_object in "
                "cilium_eks/karpenter.py)"), pool.urn)
            continue
        if addressing is None:
            continue
        expected, unknown = max_pods_for(types, addressing)
        if unknown:
            report_violation(explain(
                f"{label} allows instance types the instance-type table does not know: {', '.join(unknown[:5])}"
                f"{' ...' if len(unknown) > 5 else ''}.",
                "what Cilium can address on them, and so the kubelet's max pods, cannot be checked",
                "remove them, or regenerate the table (python -m tooling.instance_types, docs/upgrading.md)"),
                pool.urn)
            continue
        ref = path(obj, "spec.template.spec.nodeClassRef")
        ref_name, ref_kind = get(ref, "name"), get(ref, "kind")
        if ref_name is UNKNOWN:
            deferred.unknown(f"{pool.name}.spec.template.spec.nodeClassRef.name")
            continue
        node_class = classes.get(ref_name) if ref_kind == NODECLASS_KIND else None
        if node_class is None:
            report_violation(explain(
                f"{label} launches nodes from {ref_kind} {ref_name!r}, which this stack does not declare.",
                "the max pods its kubelets get cannot be checked against what Cilium addresses",
                "declare the pool's EC2NodeClass in the same stack (components/karpenter.py)"), pool.urn)
            continue
        max_pods = path(node_class.props, "spec.kubelet.maxPods")
        if max_pods is UNKNOWN:
            deferred.unknown(f"{node_class.name}.spec.kubelet.maxPods")
            continue
        smallest = min((t for t in (instance_types.lookup(n) for n in types) if t is not None),
                       key=lambda t: (addressing.node(t).max_pods, t.name))
        if as_int(max_pods) is None:
            karpenter = eni_limited_pods(smallest)
            report_violation(explain(
                f"EC2NodeClass {ref_name} of {label} sets no kubelet.maxPods.",
                f"Karpenter then gives each node the VPC CNI's (ENIs - reservedENIs) x (IPs per ENI - 1) + 2 pods "
                f"({karpenter} on {smallest.name}) and writes it into the node's NodeConfig; Cilium addresses "
                f"{addressing.node(smallest).max_pods} there: the pods beyond it hang in ContainerCreating",
                f"set spec.kubelet.maxPods {expected}, the capacity model's smallest over the pool's types "
                "(node_class_object in cilium_eks/karpenter.py)"), node_class.urn)
        elif (given := as_int(max_pods)) != expected:
            too_many = (given or 0) > (expected or 0)
            report_violation(explain(
                f"EC2NodeClass {ref_name} of {label} gives its kubelets max pods {given}; Cilium addresses "
                f"{expected} on {smallest.name}, the pool's type with the fewest.",
                "pods beyond what Cilium can address hang in ContainerCreating on that type" if too_many else
                "every node of the pool then holds fewer pods than Cilium can address on it: wasted nodes",
                f"set spec.kubelet.maxPods {expected} (node_class_object in cilium_eks/karpenter.py)"),
                node_class.urn)
    deferred.finish()
