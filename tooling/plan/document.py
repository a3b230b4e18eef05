"""The plan as a JSON document (for scripts and review tools)."""

from __future__ import annotations

from typing import Any

from .capacity import capacity_json, capacity_report
from .diagram import edges
from .model import Plan
from .text import outputs, plain


def to_json(plan: Plan) -> dict[str, Any]:
    g = plan.graph
    step_of = {m.urn: s.urn for s in plan.steps.values() for m in s.members}
    step_of.update({u: u for u in plan.steps})
    return {
        "project": g.project,
        "stack": g.stack,
        "region": plan.config.region,
        "environment": plan.config.environment,
        "resources": [
            {"urn": r.urn, "name": r.name, "type": r.type, "parent": r.parent, "custom": r.custom,
             "remote": r.remote, "synthetic": r.synthetic, "step": step_of.get(r.urn)}
            for r in sorted(g, key=lambda r: r.urn)
        ],
        "steps": [
            {"urn": s.urn, "name": s.name, "label": s.label, "type": s.type, "wave": plan.wave[s.urn],
             "start_seconds": plan.start[s.urn], "estimate_seconds": s.seconds, "note": s.note,
             "created_by_pulumi_eks": [m.name for m in s.members],
             "waits_for": [{"urn": d, "name": plan.steps[d].name, "why": sorted(k)}
                           for d, k in sorted(plan.waits[s.urn].items())]}
            for s in sorted(plan.steps.values(), key=lambda s: plan._order(s.urn))
        ],
        "waves": [[plan.steps[u].name for u in wave] for wave in plan.waves],
        "destroy_waves": [[plan.steps[u].name for u in wave] for wave in reversed(plan.waves)],
        "edges": [{"from": plan.steps[a].name, "to": plan.steps[b].name, "why": sorted(k)}
                  for a, b, k in edges(plan)],
        "critical_path": {"estimated_seconds": plan.total_seconds,
                          "steps": [{"name": plan.steps[u].name, "start_seconds": plan.start[u],
                                     "estimate_seconds": plan.steps[u].seconds, "note": plan.steps[u].note}
                                    for u in plan.critical_path]},
        "checks": [{"ok": c.ok, "text": c.text} for c in plan.checks],
        "capacity": capacity_json(capacity_report(plan.config)),
        "warnings": [{"key": p.key, "severity": p.severity, "what": p.what, "fix": p.fix}
                     for p in plan.config.warnings],
        "cilium_values": plain(plan.cilium_values),
        "outputs": [{"name": n, "secret": s} for n, s in outputs(plan)],
    }
