"""nodes-join-after-cilium: every node group waits for the Cilium release and carries the agent-not-ready taint."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    StackValidationArgs,
)

from ..core.cilium import AGENT_NOT_READY_TAINT
from ..core.cilium import CHART as CILIUM_CHART
from ..props import (
    UNKNOWN,
    Deferred,
    explain,
)
from ..resources import (
    declared_taints,
    effect_is_no_execute,
)
from ..view import StackView


def validate_nodes_join_after_cilium(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    taint_key = AGENT_NOT_READY_TAINT["key"]
    deferred = Deferred()
    for finding in view.ordering("nodes-after-cilium"):
        if finding.later is None:
            continue  # no node group: nothing joins too early
        label = f"{finding.later.type} {finding.later.name}"
        if finding.earlier is None:
            report_violation(explain(
                f"{label} exists but the stack has no Cilium release (a Helm release of chart "
                f"`{CILIUM_CHART}`) for it to wait for.",
                "nodes would join a cluster without a CNI after aws-node is gone, or on aws-node",
                "install Cilium with the Cilium component (components/cilium.py) and pass its release "
                "to the node groups"), finding.later.urn)
        elif not finding.ok:
            report_violation(explain(
                f"{label} does not depend on the Cilium release {finding.earlier.name}, directly or through "
                "its parent component.",
                "the engine may then create nodes before Cilium: their first pods start without a CNI "
                "or on aws-node and keep the wrong network until someone restarts them",
                finding.rule.fix), finding.later.urn)
    for group in view.node_groups():
        found: list[tuple[str, str]] = []
        for r in [group, *view.descendants(group)]:
            taints = declared_taints(r.props)
            if taints is UNKNOWN:
                deferred.unknown(f"{r.name}.taints")
                continue
            found += taints
        if not any(k == taint_key and effect_is_no_execute(e) for k, e in found):
            report_violation(explain(
                f"{group.resource_type} {group.name} does not carry the taint {taint_key}=true:NoExecute "
                f"(found: {', '.join(f'{k}:{e}' for k, e in found) or 'none'}).",
                "without it, pods are scheduled on a new node before its Cilium agent is ready and "
                "come up without Cilium networking and policy; cilium-operator removes the taint once "
                "the node's agent is ready",
                "add taints=[AGENT_NOT_READY_TAINT] (cilium_eks/cilium.py) to the node group "
                "(components/node_group.py)"), group.urn)
    deferred.finish()
