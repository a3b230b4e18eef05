"""node-capacity: every managed node group's kubelet admits exactly the pods Cilium can address on
its instance types, prefix delegation only where EC2 delegates prefixes, and the subnets hold the
groups at maxSize (``core/capacity.py``, the model the program's validator uses).

Read on the preview's real values: the Cilium release's values (how it addresses pods) and those of a
kube-prometheus-stack release (its node-exporter adds a host-network pod on every node), the node
groups EKS gets (types, sizes, subnets), the launch templates pulumi-eks builds (the nodeadm
``maxPodsExpression`` in their user data) and the subnets' CIDRs. What is not known yet in a first
preview (an adopted subnet's CIDR, a launch template's user data) is reported as not yet decidable.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from ..core import capacity, instance_types, monitoring
from ..core.cilium import as_int, chart_name, pod_addressing
from ..props import UNKNOWN, Deferred, elements, explain, get, path, plain
from ..resources import HELM_RELEASE, is_cilium_release
from ..view import StackView

EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
_EXPRESSION = re.compile(r'"?maxPodsExpression"?\s*:\s*"([^"]+)"')


def _user_data_expression(lt: PolicyResource) -> Any:
    """The maxPodsExpression in a launch template's user data: a string, None when absent, UNKNOWN."""
    data = get(lt.props, "userData")
    if data is UNKNOWN:
        return UNKNOWN
    if not isinstance(data, str):
        return None
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        text = data
    found = _EXPRESSION.findall(text)
    return found[-1] if found else None  # nodeadm merges parts in order: the last one wins


def _subnet_cidrs(view: StackView) -> dict[str, Any]:
    """Subnet id -> CIDR (UNKNOWN while not created), from the subnets this stack declares."""
    out: dict[str, Any] = {}
    for s in view.of_type(SUBNET):
        arn = get(s.props, "arn")
        cidr = get(s.props, "cidrBlock")
        if isinstance(arn, str) and "/" in arn:
            out[arn.rsplit("/", 1)[1]] = cidr
    return out


def validate_node_capacity(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    releases = [r for r in view.resources if is_cilium_release(r.resource_type, r.props)]
    if len(releases) != 1:
        return  # nodes-join-after-cilium reports a missing release
    values = plain(get(releases[0].props, "values", {}))
    deferred = Deferred()
    if values is UNKNOWN or not isinstance(values, Mapping):
        deferred.unknown(f"{releases[0].name}.values")
        deferred.finish()
        return
    # Host-network pods other releases put on every node (node-exporter of kube-prometheus-stack).
    extra = 0
    for r in view.resources:
        if r.resource_type == HELM_RELEASE and chart_name(get(r.props, "chart")) == monitoring.CHART:
            other = plain(get(r.props, "values", {}))
            if other is UNKNOWN or not isinstance(other, Mapping):
                deferred.unknown(f"{r.name}.values")
                continue
            extra += monitoring.host_network_pods(other)
    addressing = replace(pod_addressing(values), host_network_extra=extra)
    cidrs = _subnet_cidrs(view)
    demand: dict[str, int] = {}
    for ng in view.of_type(EKS_NODE_GROUP):
        label = f"{EKS_NODE_GROUP} {ng.name}"
        names = [t for t in elements(get(ng.props, "instanceTypes")) if isinstance(t, str)]
        types = [instance_types.lookup(n) for n in names]
        known = [t for t in types if t is not None]
        for t in known:
            if addressing.prefix_delegation and not t.supports_prefix_delegation:
                report_violation(explain(
                    f"{label} runs {t.name} ({t.hypervisor or 'unknown'} hypervisor) with Cilium prefix delegation.",
                    "EC2 delegates /28 prefixes to Nitro and bare-metal instances only: the node gets secondary "
                    "IPs, far fewer pods than planned, and a max pods it cannot address",
                    "use Nitro instance types, or set `cilium-eks:ciliumPrefixDelegation` false"), ng.urn)
            node = addressing.node(t)
            if node.pod_ips < 1:
                report_violation(explain(
                    f"{label} runs {t.name}, which addresses no pod in ENI mode ({node.formula}).",
                    "every pod on such a node stays in ContainerCreating", "use a larger instance type"), ng.urn)
        expected = addressing.expression(capacity.group_cap(types))
        templates = [r for r in view.of_type(LAUNCH_TEMPLATE) if r.parent is not None and ng.parent is not None
                     and r.parent.urn == ng.parent.urn]
        if not templates:
            report_violation(explain(
                f"{label} has no launch template of its own, so EKS writes its own NodeConfig with the VPC CNI's "
                "max pods.",
                "the kubelet then admits more pods than Cilium can address on the node (they hang in "
                "ContainerCreating) and kube-reserved memory is sized for that count",
                "give the node group an AMI id and the capacity model's maxPodsExpression (components/node_group.py)"),
                ng.urn)
        for lt in templates:
            found = _user_data_expression(lt)
            if found is UNKNOWN:
                deferred.unknown(f"{lt.name}.userData")
            elif found != expected:
                report_violation(explain(
                    f"{label}'s launch template sets maxPodsExpression {found!r}; Cilium addresses "
                    f"{expected!r} on these types.",
                    "the kubelet would admit a number of pods other than Cilium can address (too many: pods stuck "
                    "in ContainerCreating; too few: wasted nodes)",
                    "take the expression from the capacity model (PodAddressing.expression in cilium_eks/capacity.py)"),
                    ng.urn)
        per_node = max((capacity.node_addresses(addressing.node(t), addressing.pre_allocate) for t in known),
                       key=lambda a: a.addresses, default=None)
        subnets = [s for s in elements(get(ng.props, "subnetIds")) if isinstance(s, str)]
        max_size = as_int(path(ng.props, "scalingConfig.maxSize"))
        if per_node is None or not subnets or max_size is None:
            continue
        for sid in subnets:
            demand[sid] = demand.get(sid, 0) + math.ceil(max_size / len(subnets)) * per_node.addresses
    for sid, needed in sorted(demand.items()):
        cidr = cidrs.get(sid)
        if not isinstance(cidr, str):
            deferred.unknown(f"subnet {sid} cidrBlock")  # adopted, or not created yet
            continue
        usable = ipaddress.ip_network(cidr).num_addresses - capacity.SUBNET_RESERVED_ADDRESSES
        if needed > usable:
            report_violation(explain(
                f"Subnet {sid} ({cidr}) has {usable} usable addresses; the node groups at maxSize need {needed}.",
                "in ENI mode every pod takes a subnet address: pods stay in ContainerCreating once it runs out",
                "grow the private subnets (`cilium-eks:privateSubnetCidrs`/`vpcCidr`) or lower maxSize"), None)
    deferred.finish()
