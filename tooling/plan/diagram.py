"""The plan's dependency graph as Mermaid (for GitHub and the docs) and Graphviz dot (images)."""

from __future__ import annotations

import re
from collections import defaultdict

from .format import fmt_seconds, label
from .model import SLOW_THRESHOLD_SECONDS, Plan, Step


def _node_id(text: str) -> str:
    return "n_" + re.sub(r"\W+", "_", text).strip("_")


def short_type(type_: str) -> str:
    """`aws:ec2/vpc:Vpc` -> `aws Vpc`; `pulumi:providers:kubernetes` -> `kubernetes provider`."""
    if type_.startswith("pulumi:providers:"):
        return f"{type_.split(':')[-1]} provider"
    return f"{type_.split(':')[0]} {type_.split(':')[-1]}"


def step_label(s: Step) -> str:
    text = f"{s.label}<br/>{short_type(s.type)}"
    if s.members:
        created = sorted({short_type(m.type) for m in s.members})
        text += f"<br/><i>pulumi-eks creates: {', '.join(created)}</i>"
    if s.seconds >= SLOW_THRESHOLD_SECONDS:
        text += f"<br/>{fmt_seconds(s.seconds)}"
    return text.replace('"', "#quot;")


def _groups(plan: Plan) -> dict[str | None, list[str]]:
    """Steps by their top-level component (None: directly under the stack)."""
    out: dict[str | None, list[str]] = defaultdict(list)
    for urn in sorted(plan.steps, key=plan._order):
        chain = [plan.graph.get(urn), *plan.graph.ancestors(urn)]
        top = chain[-1]
        out[top.urn if top.urn != urn else None].append(urn)
    return out


def _sorted_groups(plan: Plan) -> list[tuple[str | None, list[str]]]:
    def key(item: tuple[str | None, list[str]]) -> tuple[int, int, str]:
        top, urns = item
        if top is not None:
            return plan.subtree_key(top)
        return (max(plan.finish(u) for u in urns), max(plan.wave[u] for u in urns), "")

    return [(top, sorted(urns, key=plan.subtree_key)) for top, urns in sorted(_groups(plan).items(), key=key)]


def edges(plan: Plan) -> list[tuple[str, str, frozenset[str]]]:
    return sorted(((d, u, k) for u, deps in plan.reduced.items() for d, k in deps.items()),
                  key=lambda e: (plan.steps[e[0]].label, plan.steps[e[1]].label))


def _explicit_only(kinds: frozenset[str]) -> bool:
    return all("depends_on" in k for k in kinds)


def render_mermaid(plan: Plan) -> str:
    lines = [
        "flowchart LR",
        f"  %% Dependency graph of stack {plan.graph.stack}: an arrow A --> B means B waits for A.",
        "  %% Dotted arrows are depends_on (no data links the two); implied waits are left out.",
    ]
    for top, urns in _sorted_groups(plan):
        indent = "  "
        if top is not None:
            comp = plan.graph.get(top)
            lines.append(f"  subgraph {_node_id(label(comp.name, plan.prefix))}_group"
                         f"[\"{label(comp.name, plan.prefix)} ({comp.type.split(':')[-1]})\"]")
            indent = "    "
        for urn in urns:
            s = plan.steps[urn]
            lines.append(f"{indent}{_node_id(s.label)}[\"{step_label(s)}\"]")
        if top is not None:
            lines.append("  end")
    for src, dst, kinds in edges(plan):
        a, b = _node_id(plan.steps[src].label), _node_id(plan.steps[dst].label)
        lines.append(f"  {a} -. depends_on .-> {b}" if _explicit_only(kinds) else f"  {a} --> {b}")
    slow = [_node_id(s.label) for s in sorted(plan.steps.values(), key=lambda s: s.label)
            if s.seconds >= SLOW_THRESHOLD_SECONDS]
    critical = [_node_id(plan.steps[u].label) for u in plan.critical_path]
    lines.append("  classDef slow stroke:#c0392b,stroke-width:2px")
    lines.append("  classDef critical fill:#fdebd0")
    if slow:
        lines.append(f"  class {','.join(slow)} slow")
    if critical:
        lines.append(f"  class {','.join(critical)} critical")
    return "\n".join(lines) + "\n"


def render_dot(plan: Plan) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q('plan-' + plan.graph.stack)} {{", "  rankdir=LR;",
             '  node [shape=box, fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    critical = set(plan.critical_path)
    for top, urns in _sorted_groups(plan):
        indent = "  "
        if top is not None:
            comp = plan.graph.get(top)
            lines.append(f"  subgraph {q('cluster_' + comp.name)} {{")
            lines.append(f"    label={q(label(comp.name, plan.prefix) + ' (' + comp.type.split(':')[-1] + ')')};")
            indent = "    "
        for urn in urns:
            s = plan.steps[urn]
            text = f"{s.label}\\n{s.type}" + (f"\\n{fmt_seconds(s.seconds)}" if s.seconds >= SLOW_THRESHOLD_SECONDS
                                                else "")
            attrs = [f"label=\"{text}\""]
            if urn in critical:
                attrs.append('style=filled, fillcolor="#fdebd0"')
            lines.append(f"{indent}{q(s.label)} [{', '.join(attrs)}];")
        if top is not None:
            lines.append("  }")
    for src, dst, kinds in edges(plan):
        style = ' [style=dashed, label="depends_on"]' if _explicit_only(kinds) else ""
        lines.append(f"  {q(plan.steps[src].label)} -> {q(plan.steps[dst].label)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
