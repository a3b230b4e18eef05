"""The live cluster against the capacity model (``cilium_eks.capacity``): each node's allocatable
pods against the max pods the model gives its instance type, the ENIs and addresses Cilium holds
on it, and the private subnets' free addresses (from the EC2 API). Pure decisions over what
``kubectl get -o json`` and ``aws ec2 describe-subnets`` return."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cilium_eks import capacity, instance_types
from cilium_eks.capacity import PodAddressing
from cilium_eks.karpenter import NODEPOOL_LABEL

from .checks import allocated_cidrs
from .objects import Obj, cilium_nodes, items, meta, name_of
from .results import SKIP, CheckResult, CommandOutcome, result

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


def _delegated(ciliumnode: Obj | None) -> bool:
    enis = (((ciliumnode or {}).get("status") or {}).get("eni") or {}).get("enis") or {}
    return any(e.get("prefixes") for e in enis.values())


def check_capacity(nodes: Obj | Sequence[Obj], ciliumnodes: Obj | Sequence[Obj],
                   addressing: PodAddressing) -> CheckResult:
    """Every node's allocatable pods equal the model's max pods for its type: more would admit pods
    Cilium cannot address (stuck in ContainerCreating), fewer wastes the node. ``addressing`` is the
    stack's (``CiliumOptions.pod_addressing``); prefix delegation is read from the node itself."""
    name = "capacity"
    cnodes = {name_of(cn): cn for cn in items(ciliumnodes)}
    evidence: list[str] = []
    drift: list[str] = []
    for node in cilium_nodes(nodes):
        node_name = name_of(node)
        type_name = (meta(node).get("labels") or {}).get(INSTANCE_TYPE_LABEL, "")
        t = instance_types.lookup(type_name)
        allocatable = str(((node.get("status") or {}).get("allocatable") or {}).get("pods", ""))
        if t is None:
            evidence.append(f"{node_name}: {type_name or 'no instance type label'} is not in the table; not judged")
            continue
        cn = cnodes.get(node_name)
        model = capacity.node_capacity(t, prefix_delegation=_delegated(cn),
                                       host_network_pods=addressing.host_network_total,
                                       reserved_ips=addressing.reserved_ips,
                                       first_interface_index=addressing.first_interface_index)
        enis = len((((cn or {}).get("status") or {}).get("eni") or {}).get("enis") or {})
        pools = allocated_cidrs(cn) if cn else None
        held = sum(net.num_addresses for net in pools) if pools else None
        line = (f"{node_name} ({type_name}): allocatable pods {allocatable or '?'}, model {model.max_pods} "
                f"({model.limited_by}); ENIs attached {enis} of {t.enis}"
                + (f"; addresses held {held} of {model.addressable_ips}" if held is not None else ""))
        evidence.append(line)
        # A Karpenter node gets its EC2NodeClass's one max pods, the smallest over its pool's types
        # (cilium_eks/karpenter.py): fewer than the model is by design there, more is never safe.
        karpenter = bool((meta(node).get("labels") or {}).get(NODEPOOL_LABEL))
        if karpenter and allocatable.isdigit() and int(allocatable) <= model.max_pods:
            continue
        if allocatable != str(model.max_pods):
            drift.append(f"{node_name}: the kubelet admits {allocatable or 'an unknown number of'} pods, Cilium can "
                         f"address {model.max_pods} ({model.formula})")
    if not evidence:
        return CheckResult(name, SKIP, "no node to compare with the capacity model")
    if drift:
        return result(name, False, f"{len(drift)} node(s) drift from the capacity model: their max pods is not what "
                      "Cilium can address (the launch template's maxPodsExpression did not apply?)", drift + evidence)
    return result(name, True, "every node's max pods is what Cilium can address", evidence)


def subnet_ids(ciliumnodes: Obj | Sequence[Obj]) -> list[str]:
    """The subnets Cilium's ENIs live in, from the CiliumNodes (``status.eni.enis[].subnet.id``)."""
    out = set()
    for cn in items(ciliumnodes):
        for e in ((((cn.get("status") or {}).get("eni") or {}).get("enis")) or {}).values():
            sid = (e.get("subnet") or {}).get("id")
            if sid:
                out.add(sid)
    return sorted(out)


def decide_subnets(outcome: CommandOutcome | None, aws_present: bool) -> CheckResult:
    """Free addresses of the pod subnets (``aws ec2 describe-subnets --output json``): at least
    ``HEADROOM_WARNING`` of each must stay free for pods and the operator's pre-allocation."""
    name = "subnet-headroom"
    if not aws_present:
        return CheckResult(name, SKIP, "the AWS CLI is not on PATH; subnet free addresses come from the EC2 API")
    if outcome is None:
        return CheckResult(name, SKIP, "no subnet found in the CiliumNodes' ENIs")
    if outcome.returncode != 0:
        return result(name, False, "`aws ec2 describe-subnets` failed", [outcome.stderr.strip()[-300:]])
    try:
        subnets = json.loads(outcome.stdout).get("Subnets") or []
    except ValueError:
        return result(name, False, "`aws ec2 describe-subnets` did not print JSON", [outcome.stdout[:200]])
    low: list[str] = []
    evidence: list[str] = []
    for s in subnets:
        usable = capacity.usable_addresses(s["CidrBlock"])
        free = int(s.get("AvailableIpAddressCount", 0))
        share = free / usable if usable > 0 else 0.0
        line = (f"{s.get('SubnetId')} ({s['CidrBlock']}, {s.get('AvailabilityZone', '?')}): "
                f"{free} of {usable} free ({share:.0%})")
        evidence.append(line)
        if share < capacity.HEADROOM_WARNING:
            low.append(line)
    if low:
        return result(name, False, f"{len(low)} pod subnet(s) below {capacity.HEADROOM_WARNING:.0%} free addresses",
                      low + evidence)
    return result(name, True, f"every pod subnet keeps at least {capacity.HEADROOM_WARNING:.0%} free", evidence)
