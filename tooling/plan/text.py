"""The plan as a text report: component tree, creation waves, critical path, ordering
checks, Cilium values and stack outputs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..mockengine import RecordedResource, Secret
from .capacity import capacity_report, render_capacity
from .format import fmt_clock, fmt_seconds, label
from .model import SLOW_THRESHOLD_SECONDS, Plan


def _why(kinds: Iterable[str]) -> str:
    return ", ".join(sorted(kinds))


def plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def values_yaml(plan: Plan) -> str:
    if plan.cilium_values is None:
        return "# no Cilium release in this stack\n"
    return yaml.safe_dump(plain(plan.cilium_values), sort_keys=True, default_flow_style=False, width=100)


def outputs(plan: Plan) -> list[tuple[str, bool]]:
    return [(k, isinstance(v, Secret)) for k, v in sorted(plan.graph.outputs.items())]


def render_tree(plan: Plan) -> list[str]:
    g = plan.graph
    children: dict[str | None, list[RecordedResource]] = defaultdict(list)
    for r in g:
        children[r.parent].append(r)
    rows: list[tuple[str, str]] = [(plan.prefix, "pulumi:pulumi:Stack")]

    def walk(urn: str | None, indent: str) -> None:
        kids = sorted(children.get(urn, []), key=lambda r: plan.subtree_key(r.urn))
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            marker = ""
            if r.synthetic:
                marker = "  (created by pulumi-eks)"
            elif r.remote:
                marker = "  [pulumi-eks component]"
            elif not r.custom and not children.get(r.urn):
                marker = "  (nothing to create in this configuration)"
            rows.append((f"{indent}{'└─ ' if last else '├─ '}{label(r.name, plan.prefix)}", r.type + marker))
            walk(r.urn, indent + ("   " if last else "│  "))

    roots = [r for r in g if r.parent not in g.resources]
    children[None] = roots
    walk(None, "")
    width = max(len(a) for a, _ in rows) + 2
    return [f"{a.ljust(width)}{b}" for a, b in rows]


def render_waves(plan: Plan, *, with_waits: bool = True) -> list[str]:
    lines: list[str] = []
    width = max((len(s.label) for s in plan.steps.values()), default=10) + 2
    twidth = max((len(s.type) for s in plan.steps.values()), default=10) + 2
    for i, wave in enumerate(plan.waves, start=1):
        lines.append(f"Wave {i}")
        for urn in wave:
            s = plan.steps[urn]
            extra = f" + {len(s.members)} created by pulumi-eks" if s.members else ""
            lines.append(f"  {s.label.ljust(width)}{s.type.ljust(twidth)}{fmt_seconds(s.seconds):>9}{extra}")
            if s.seconds >= SLOW_THRESHOLD_SECONDS and s.note:
                lines.append(f"      slow: {s.note}")
            if with_waits and plan.reduced[urn]:
                waits = "; ".join(f"{plan.steps[d].label} ({_why(k)})"
                                  for d, k in sorted(plan.reduced[urn].items(), key=lambda x: plan.steps[x[0]].label))
                lines.append(f"      waits for: {waits}")
    return lines


def render_destroy_order(plan: Plan) -> list[str]:
    """`pulumi destroy` deletes a step only once everything that waits for it is gone: the
    creation waves, backwards."""
    lines = []
    for i, wave in enumerate(reversed(plan.waves), start=1):
        lines.append(f"  {i:>2}. " + ", ".join(plan.steps[u].label for u in wave))
    return lines


def render_critical_path(plan: Plan) -> list[str]:
    width = max((len(plan.steps[u].label) for u in plan.critical_path), default=10) + 2
    lines = []
    for urn in plan.critical_path:
        s = plan.steps[urn]
        note = f"  {s.note}" if s.note and s.seconds >= SLOW_THRESHOLD_SECONDS else ""
        lines.append(f"  {fmt_clock(plan.start[urn]):>6}  {s.label.ljust(width)}{fmt_seconds(s.seconds):>9}{note}")
    return lines


def render_warnings(plan: Plan) -> list[str]:
    """What the validator reported without stopping the plan: warnings, and what `pulumi up` refuses."""
    problems = plan.config.warnings
    if not problems:
        return []
    lines = [f"Configuration warnings ({len(problems)})", "=" * len(f"Configuration warnings ({len(problems)})")]
    for p in problems:
        tag = "REFUSED BY `pulumi up`" if p.severity == "deploy" else "warning"
        lines.append(f"  [{tag}] {p}")
    return [*lines, ""]


def render_text(plan: Plan) -> str:
    g, cfg = plan.graph, plan.config
    synthetic = sum(1 for r in g if r.synthetic)
    out: list[str] = [
        f"Plan of stack '{g.stack}' ({g.project}): region {cfg.region}, {cfg.environment}, "
        f"Kubernetes {cfg.cluster.kubernetes_version}, Cilium {cfg.cilium_version}",
        "Evaluated offline: the real program under the mock engine; no AWS account, no Pulumi CLI, nothing created.",
        f"{len(g.resources)} resources: {len(g.resources) - synthetic} declared by this program, "
        f"{synthetic} created by pulumi-eks; {len(plan.steps)} creation steps.",
        "",
        "Component tree",
        "==============",
        *render_tree(plan),
        "",
        f"Creation order: {len(plan.waves)} waves",
        "=" * len(f"Creation order: {len(plan.waves)} waves"),
        "A wave's steps can be created in parallel; each starts once everything it waits for exists.",
        "Waits: data (an input uses an output), depends_on, provider, reference (a resource passed to",
        "pulumi-eks), inherited (from a parent component). Waits implied by another wait are not repeated.",
        "",
        *render_waves(plan),
        "",
        f"Critical path: {fmt_seconds(plan.total_seconds)} (rough AWS timings; everything else runs alongside)",
        "=" * 40,
        *render_critical_path(plan),
        "",
        f"Destroy order: {len(plan.waves)} waves (`pulumi destroy` deletes what waits for a step before the step)",
        "=" * 40,
        *render_destroy_order(plan),
        "",
        "Why this order",
        "==============",
        *[f"  [{'ok' if c.ok else 'WARNING'}] {c.text}" for c in plan.checks],
        "",
        "Capacity",
        "========",
        *render_capacity(capacity_report(cfg)),
        "",
        *render_warnings(plan),
        "Cilium Helm values",
        "==================",
        values_yaml(plan).rstrip("\n"),
        "",
        f"Stack outputs ({len(g.outputs)})",
        "=================",
        *[f"  {name}{'  [secret]' if secret else ''}" for name, secret in outputs(plan)],
        "",
        f"Diagram: python -m tooling.plan --stack {g.stack} --format mermaid --output plan-{g.stack}.mmd",
    ]
    return "\n".join(out) + "\n"
