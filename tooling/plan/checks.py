"""The plan's "why this order": the core ordering rules (``cilium_eks.ordering``) read over
the recorded graph, and the deadlock a waiting Cilium release would cause."""

from __future__ import annotations

from cilium_eks.ordering import OrderingFinding, check_ordering, is_cilium_release

from .format import label
from .model import Check, Plan


def _describe(plan: Plan, finding: OrderingFinding) -> str:
    rule = finding.rule
    if finding.later is None:
        return f"no {rule.later} in the stack: {rule.fix}" if rule.later != "node-group" else \
            "no node group: nothing can run the Cilium agents"
    later = label(finding.later.name, plan.prefix)
    if finding.earlier is None:
        return f"{later} has no {rule.earlier} to wait for: {rule.why}"
    earlier = label(finding.earlier.name, plan.prefix)
    if finding.ok:
        return f"{later} waits for {earlier} ({rule.name}): {rule.why}"
    return f"{later} does NOT wait for {earlier} ({rule.name}): {rule.why}. Fix: {rule.fix}"


def ordering_checks(plan: Plan) -> list[Check]:
    graph = plan.graph.dependency_graph()
    out = [Check(f.ok, _describe(plan, f)) for f in check_ordering(graph)]
    for release in (r for r in graph.resources.values() if is_cilium_release(r)):
        name = label(release.name, plan.prefix)
        skip = release.props.get("skipAwait") is True
        out.append(Check(skip, f"{name} does not wait for its pods (skipAwait): no node exists yet, so waiting "
                         "would deadlock against node groups that wait for it" if skip else
                         f"{name} waits for its pods while the node groups wait for it: a deadlock until timeout"))
    return out
