"""Offline plan of a stack: what `pulumi up` would create, in which order, with which Cilium values.

    python -m cilium_eks.plan --stack dev                        # the report, on stdout
    python -m cilium_eks.plan --stack prod --format mermaid --output build/prod.mmd
    python -m cilium_eks.plan --stack dev --format json --output build/dev.json
    python -m cilium_eks.plan --stack dev --image svg --output build/dev.svg   # needs Graphviz `dot`
    python -m cilium_eks.plan --stack dev --set ciliumKubeProxyReplacement=true   # what if

No AWS account and no Pulumi CLI: the real ``__main__.py`` runs under the project's one mock
engine (``cilium_eks.mockengine``), exactly as the unit and policy tests run it, and the plan
is read from what the engine recorded. Invalid configuration fails here with the program's
own ``ConfigError`` (exit 2), as it would in ``pulumi up``.

How the order is computed. Every custom resource this program declares is a *step*; a
pulumi-eks component (a remote component) is one step together with the resources its
provider creates inside it ("created by pulumi-eks"), which come up with it. A step waits for:
its data dependencies (an input uses another resource's output), its ``depends_on``, its
provider, the resources it passes by reference to pulumi-eks, and whatever its parent
components were told to wait for. Waiting for a component means waiting for every step in
it. Waves are the longest chain of waits before a step; the critical path weighs each step
with a rough AWS timing (``SLOW_STEPS``).

Exit codes: 0 ok, 2 invalid configuration or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .cilium_values import CILIUM_CHART, cilium_values
from .config import ConfigError, StackConfig, parse_config
from .mockengine import (
    Graph,
    RecordedResource,
    Secret,
    project_name,
    run_program,
    stack_config,
    stack_files,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

FORMATS = ("text", "mermaid", "json")
IMAGE_FORMATS = ("png", "svg")

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_ADDON = "aws:eks/addon:Addon"
AWS_NODE_COMPONENT = "cilium-eks:components:AwsNodeRemoval"

#: Rough creation times of the slow AWS and Kubernetes steps (seconds, why). Everything
#: else is a few seconds. They are estimates for reading the order, not promises.
SLOW_STEPS: Mapping[str, tuple[int, str]] = {
    EKS_CLUSTER: (600, "EKS control plane ~10 min"),
    EKS_NODE_GROUP: (240, "managed node group ~3-5 min: instances boot, join, and turn Ready once "
                          "their Cilium agent runs"),
    "aws:ec2/natGateway:NatGateway": (120, "NAT gateway ~2 min"),
    EKS_ADDON: (60, "EKS add-on ~1 min, after the control plane"),
    HELM_RELEASE: (60, "Helm release ~1 min without waiting for pods"),
    "command:local:Command": (30, "kubectl command ~30 s"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (5, ""),
}
DEFAULT_STEP_SECONDS = 5
#: A step at least this slow gets its note printed.
SLOW_THRESHOLD_SECONDS = 30

#: What the Cilium values show where an output of another resource goes.
ROLE_ARN_PLACEHOLDER = "<ARN of the cilium-operator IAM role, known after create>"
API_HOST_PLACEHOLDER = "<EKS API server host, known after create>"


class PlanError(Exception):
    """A plan that cannot be computed (a dependency cycle, a missing tool)."""


# --------------------------------------------------------------------------------------
# The plan model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Something the engine creates as one unit: a custom resource, or a pulumi-eks
    component with everything its provider creates inside it."""

    urn: str
    name: str
    label: str  # name without the `<project>-<stack>-` prefix
    type: str
    remote: bool
    members: tuple[RecordedResource, ...]  # resources created by pulumi-eks inside a remote step
    seconds: int
    note: str


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str


@dataclass
class Plan:
    graph: Graph
    config: StackConfig
    steps: dict[str, Step]
    #: step urn -> {step urn it waits for directly -> why (kinds)}
    waits: dict[str, dict[str, frozenset[str]]]
    #: the same without the waits already implied by another one (what the diagram draws)
    reduced: dict[str, dict[str, frozenset[str]]]
    wave: dict[str, int]
    start: dict[str, int]
    critical_path: list[str]
    cilium_values: dict[str, Any] | None
    checks: list[Check]

    @property
    def prefix(self) -> str:
        return f"{self.graph.project}-{self.graph.stack}"

    @property
    def waves(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(max(self.wave.values(), default=0))]
        for urn in sorted(self.steps, key=self._order):
            out[self.wave[urn] - 1].append(urn)
        return out

    @property
    def total_seconds(self) -> int:
        if not self.critical_path:
            return 0
        last = self.critical_path[-1]
        return self.start[last] + self.steps[last].seconds

    def _order(self, urn: str) -> tuple[int, str]:
        return self.wave[urn], self.steps[urn].label

    def finish(self, urn: str) -> int:
        return self.start[urn] + self.steps[urn].seconds

    def subtree_key(self, urn: str) -> tuple[int, int, str]:
        """Sort key of a resource or component: when the last step in it is done, so the
        tree and the diagram read in creation order (network, cluster, ..., demo)."""
        inside = [urn, *(r.urn for r in self.graph.descendants(urn))]
        steps = [u for u in inside if u in self.steps]
        if not steps:
            return (10**9, 10**9, self.graph.get(urn).name)
        return (max(self.finish(u) for u in steps), max(self.wave[u] for u in steps), self.graph.get(urn).name)

    def step_of_name(self, name: str) -> Step:
        """The step a resource (by full or short name) belongs to."""
        for s in self.steps.values():
            if name in (s.name, s.label) or any(m.name == name for m in s.members):
                return s
        raise KeyError(name)

    def waits_transitively(self, urn: str, other: str) -> bool:
        seen: set[str] = set()
        todo = [urn]
        while todo:
            cur = todo.pop()
            for dep in self.waits.get(cur, {}):
                if dep == other:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False


# --------------------------------------------------------------------------------------
# Building the plan from the recorded graph
# --------------------------------------------------------------------------------------


def _label(name: str, prefix: str) -> str:
    return name[len(prefix) + 1:] if name.startswith(prefix + "-") else name


def _estimate(r: RecordedResource) -> tuple[int, str]:
    if r.type.startswith("pulumi:providers:"):
        return 0, ""
    if r.type == HELM_RELEASE and not r.inputs.get("skipAwait", False):
        timeout = int(r.inputs.get("timeout") or 300)
        return timeout, f"Helm release waits for every pod to be ready (up to {timeout} s)"
    if r.type == "kubernetes:core/v1:Service" and (r.inputs.get("spec") or {}).get("type") == "LoadBalancer":
        return 180, "load balancer ~2-3 min until it has an address"
    if r.type in SLOW_STEPS:
        return SLOW_STEPS[r.type]
    return DEFAULT_STEP_SECONDS, ""


def _remote_estimate(members: Sequence[RecordedResource]) -> tuple[int, str]:
    """pulumi-eks creates its add-ons after the control plane; the rest runs alongside."""
    main = [(_estimate(m), m) for m in members if m.type != EKS_ADDON]
    addons = [(_estimate(m), m) for m in members if m.type == EKS_ADDON]
    main_s = max((e[0] for e, _ in main), default=DEFAULT_STEP_SECONDS)
    addon_s = max((e[0] for e, _ in addons), default=0)
    notes = [e[1] for e, _ in sorted(main, key=lambda x: -x[0][0]) if e[1] and e[0] >= SLOW_THRESHOLD_SECONDS][:1]
    if addons:
        names = ", ".join(sorted(str(m.inputs.get("addonName") or m.name) for _, m in addons))
        notes.append(f"then the {names} add-on{'s' if len(addons) > 1 else ''} {fmt_seconds(addon_s)}")
    return main_s + addon_s, "; ".join(notes)


def build_plan(graph: Graph, config: StackConfig) -> Plan:
    resources = graph.resources
    prefix = f"{graph.project}-{graph.stack}"
    descendants = graph.descendants
    ancestors = graph.ancestors

    # Which step each resource belongs to: itself when it is created on its own, its
    # remote (pulumi-eks) ancestor when pulumi-eks creates it, none for local components.
    step_of: dict[str, str] = {}
    for r in resources.values():
        if r.synthetic:
            owner = next((a for a in ancestors(r.urn) if not a.synthetic), None)
            if owner is not None:
                step_of[r.urn] = owner.urn
        elif r.custom or r.remote:
            step_of[r.urn] = r.urn

    steps: dict[str, Step] = {}
    for urn in sorted(set(step_of.values())):
        r = resources[urn]
        members = tuple(m for m in descendants(urn) if m.synthetic)
        seconds, note = _remote_estimate(members) if r.remote else _estimate(r)
        steps[urn] = Step(urn=urn, name=r.name, label=_label(r.name, prefix), type=r.type, remote=r.remote,
                          members=members, seconds=seconds, note=note)

    # Two resources of different types may share a name (a Deployment and its Service):
    # their labels, and the diagram's node ids, must not.
    same_label: dict[str, list[str]] = defaultdict(list)
    for urn, step in steps.items():
        same_label[step.label].append(urn)
    for urns in same_label.values():
        if len(urns) > 1:
            for urn in urns:
                step = steps[urn]
                steps[urn] = replace(step, label=f"{step.label} ({step.type.split(':')[-1]})")

    def targets(urn: str) -> set[str]:
        """The steps that waiting for `urn` means waiting for."""
        if urn in step_of:
            return {step_of[urn]}
        if urn in resources:  # a local component: everything in it
            return {step_of[d.urn] for d in descendants(urn) if d.urn in step_of}
        return set()

    waits: dict[str, dict[str, frozenset[str]]] = {}
    for urn, step in steps.items():
        why: dict[str, set[str]] = defaultdict(set)
        sources = [(resources[urn], ""), *((m, "") for m in step.members),
                   *((a, f"inherited from {_label(a.name, prefix)}: ") for a in ancestors(urn))]
        for r, inherited in sources:
            for dep, kinds in graph.direct_waits(r.urn).items():
                for t in targets(dep):
                    if t != urn:
                        why[t].update(inherited + k for k in kinds)
        waits[urn] = {t: frozenset(k) for t, k in why.items()}

    order = _topological(waits)
    wave: dict[str, int] = {}
    start: dict[str, int] = {}
    closure: dict[str, set[str]] = {}
    for urn in order:
        deps = waits[urn]
        wave[urn] = 1 + max((wave[d] for d in deps), default=0)
        start[urn] = max((start[d] + steps[d].seconds for d in deps), default=0)
        closure[urn] = set(deps).union(*(closure[d] for d in deps)) if deps else set()

    reduced = {
        urn: {d: k for d, k in deps.items() if not any(d in closure[o] for o in deps if o != d)}
        for urn, deps in waits.items()
    }

    critical: list[str] = []
    if steps:
        def finish(u: str) -> int:
            return start[u] + steps[u].seconds

        def by_label(urns: Iterable[str]) -> list[str]:
            return sorted(urns, key=lambda u: steps[u].label)

        # max() keeps the first of equals: ties go to the alphabetically first step.
        cur: str | None = max(by_label(steps), key=lambda u: (finish(u), -wave[u]))
        while cur is not None:
            critical.append(cur)
            deps = waits[cur]
            cur = max(by_label(deps), key=finish) if deps else None
        critical.reverse()

    plan = Plan(graph=graph, config=config, steps=steps, waits=waits, reduced=reduced, wave=wave, start=start,
                critical_path=critical, cilium_values=_cilium_values(graph, config), checks=[])
    plan.checks = ordering_checks(plan)
    return plan


def _topological(waits: Mapping[str, Mapping[str, Any]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for root in sorted(waits):
        if state.get(root):
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(waits[root])))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(iter(it), None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state.get(nxt) == 1:
                raise PlanError(f"dependency cycle through {node} and {nxt}")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(waits[nxt]))))
    return order


def _overlay(recorded: Any, pure: Any) -> Any:
    """The recorded values, with the leaves the pure function marks as outputs of other
    resources shown as placeholders instead of the mock engine's made-up ids."""
    if isinstance(pure, str) and pure in (ROLE_ARN_PLACEHOLDER, API_HOST_PLACEHOLDER):
        return pure
    if isinstance(recorded, Mapping) and isinstance(pure, Mapping):
        return {k: _overlay(v, pure.get(k)) for k, v in recorded.items()}
    return recorded


def _cilium_values(graph: Graph, config: StackConfig) -> dict[str, Any] | None:
    releases = [r for r in graph if r.type == HELM_RELEASE and r.inputs.get("chart") == CILIUM_CHART]
    if len(releases) != 1:
        return None
    recorded = releases[0].inputs.get("values") or {}
    pure = cilium_values(config, operator_role_arn=ROLE_ARN_PLACEHOLDER,
                         api_server_host=API_HOST_PLACEHOLDER if config.cilium.kube_proxy_replacement else None)
    return _overlay(recorded, pure)


# --------------------------------------------------------------------------------------
# Ordering facts the reader should not have to take on trust
# --------------------------------------------------------------------------------------


def _steps_with(plan: Plan, type_: str) -> list[str]:
    return sorted(u for u, s in plan.steps.items() if s.type == type_ or any(m.type == type_ for m in s.members))


def cilium_release_step(plan: Plan) -> str | None:
    found = [u for u, s in plan.steps.items()
             if s.type == HELM_RELEASE and plan.graph.get(u).inputs.get("chart") == CILIUM_CHART]
    return found[0] if len(found) == 1 else None


def aws_node_steps(plan: Plan) -> list[str]:
    comps = [r.urn for r in plan.graph if r.type == AWS_NODE_COMPONENT]
    return sorted(u for u in plan.steps if any(a.urn in comps for a in plan.graph.ancestors(u)))


def eks_cluster_steps(plan: Plan) -> list[str]:
    return _steps_with(plan, EKS_CLUSTER)


def node_group_steps(plan: Plan) -> list[str]:
    return _steps_with(plan, EKS_NODE_GROUP)


def ordering_checks(plan: Plan) -> list[Check]:
    release = cilium_release_step(plan)
    if release is None:
        return [Check(False, "no single Cilium Helm release found: nothing networks the pods")]
    label = plan.steps[release].label
    out: list[Check] = []
    for c in eks_cluster_steps(plan):
        ok = plan.waits_transitively(release, c)
        out.append(Check(ok, f"{label} waits for the EKS control plane ({plan.steps[c].label})"
                         if ok else f"{label} does NOT wait for the EKS control plane ({plan.steps[c].label})"))
    removal = aws_node_steps(plan)
    if not removal:
        out.append(Check(False, "nothing takes aws-node out of the way: two CNIs would manage the same ENIs"))
    for a in removal:
        ok = plan.waits_transitively(release, a)
        out.append(Check(ok, f"{label} waits for {plan.steps[a].label}: what Cilium replaces is out of the way "
                         "before the first Cilium agent starts" if ok else
                         f"{label} does NOT wait for {plan.steps[a].label}: what Cilium replaces could still run "
                         "when the first Cilium agent starts"))
    skip = bool(plan.graph.get(release).inputs.get("skipAwait", False))
    out.append(Check(skip, f"{label} does not wait for its pods (skipAwait): no node exists yet, so waiting "
                     "would deadlock against node groups that wait for it" if skip else
                     f"{label} waits for its pods while the node groups wait for it: a deadlock until timeout"))
    groups = node_group_steps(plan)
    if not groups:
        out.append(Check(False, "no node group: nothing can run the Cilium agents"))
    for g in groups:
        ok = plan.waits_transitively(g, release)
        out.append(Check(ok, f"{plan.steps[g].label} waits for {label}: its nodes join with Cilium installed and "
                         "keep the node.cilium.io/agent-not-ready taint until their agent runs, so every pod starts "
                         "on Cilium and nothing needs the recipe's manual restart" if ok else
                         f"{plan.steps[g].label} does NOT wait for {label}: its first pods could start without "
                         "Cilium and need a manual restart"))
    return out


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def fmt_seconds(seconds: int) -> str:
    if seconds < 60:
        return f"~{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"~{minutes} min" + (f" {rest} s" if rest else "")


def fmt_clock(seconds: int) -> str:
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def _why(kinds: Iterable[str]) -> str:
    return ", ".join(sorted(kinds))


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def values_yaml(plan: Plan) -> str:
    if plan.cilium_values is None:
        return "# no Cilium release in this stack\n"
    return yaml.safe_dump(_plain(plan.cilium_values), sort_keys=True, default_flow_style=False, width=100)


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
            rows.append((f"{indent}{'└─ ' if last else '├─ '}{_label(r.name, plan.prefix)}", r.type + marker))
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


def render_critical_path(plan: Plan) -> list[str]:
    width = max((len(plan.steps[u].label) for u in plan.critical_path), default=10) + 2
    lines = []
    for urn in plan.critical_path:
        s = plan.steps[urn]
        note = f"  {s.note}" if s.note and s.seconds >= SLOW_THRESHOLD_SECONDS else ""
        lines.append(f"  {fmt_clock(plan.start[urn]):>6}  {s.label.ljust(width)}{fmt_seconds(s.seconds):>9}{note}")
    return lines


def render_text(plan: Plan) -> str:
    g, cfg = plan.graph, plan.config
    synthetic = sum(1 for r in g if r.synthetic)
    out: list[str] = [
        f"Plan of stack '{g.stack}' ({g.project}): region {cfg.region}, {cfg.environment}, "
        f"Kubernetes {cfg.cluster.kubernetes_version}, Cilium {cfg.cilium.version}",
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
        "Why this order",
        "==============",
        *[f"  [{'ok' if c.ok else 'WARNING'}] {c.text}" for c in plan.checks],
        "",
        "Cilium Helm values",
        "==================",
        values_yaml(plan).rstrip("\n"),
        "",
        f"Stack outputs ({len(g.outputs)})",
        "=================",
        *[f"  {name}{'  [secret]' if secret else ''}" for name, secret in outputs(plan)],
        "",
        f"Diagram: python -m cilium_eks.plan --stack {g.stack} --format mermaid --output plan-{g.stack}.mmd",
    ]
    return "\n".join(out) + "\n"


def _node_id(label: str) -> str:
    return "n_" + re.sub(r"\W+", "_", label).strip("_")


def short_type(type_: str) -> str:
    """`aws:ec2/vpc:Vpc` -> `aws Vpc`; `pulumi:providers:kubernetes` -> `kubernetes provider`."""
    if type_.startswith("pulumi:providers:"):
        return f"{type_.split(':')[-1]} provider"
    return f"{type_.split(':')[0]} {type_.split(':')[-1]}"


def _step_label(s: Step) -> str:
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


def _edges(plan: Plan) -> list[tuple[str, str, frozenset[str]]]:
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
            lines.append(f"  subgraph {_node_id(_label(comp.name, plan.prefix))}_group"
                         f"[\"{_label(comp.name, plan.prefix)} ({comp.type.split(':')[-1]})\"]")
            indent = "    "
        for urn in urns:
            s = plan.steps[urn]
            lines.append(f"{indent}{_node_id(s.label)}[\"{_step_label(s)}\"]")
        if top is not None:
            lines.append("  end")
    for src, dst, kinds in _edges(plan):
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
            lines.append(f"    label={q(_label(comp.name, plan.prefix) + ' (' + comp.type.split(':')[-1] + ')')};")
            indent = "    "
        for urn in urns:
            s = plan.steps[urn]
            label = f"{s.label}\\n{s.type}" + (f"\\n{fmt_seconds(s.seconds)}" if s.seconds >= SLOW_THRESHOLD_SECONDS
                                                 else "")
            attrs = [f"label=\"{label}\""]
            if urn in critical:
                attrs.append('style=filled, fillcolor="#fdebd0"')
            lines.append(f"{indent}{q(s.label)} [{', '.join(attrs)}];")
        if top is not None:
            lines.append("  }")
    for src, dst, kinds in _edges(plan):
        style = ' [style=dashed, label="depends_on"]' if _explicit_only(kinds) else ""
        lines.append(f"  {q(plan.steps[src].label)} -> {q(plan.steps[dst].label)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


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
        "edges": [{"from": plan.steps[a].name, "to": plan.steps[b].name, "why": sorted(k)}
                  for a, b, k in _edges(plan)],
        "critical_path": {"estimated_seconds": plan.total_seconds,
                          "steps": [{"name": plan.steps[u].name, "start_seconds": plan.start[u],
                                     "estimate_seconds": plan.steps[u].seconds, "note": plan.steps[u].note}
                                    for u in plan.critical_path]},
        "checks": [{"ok": c.ok, "text": c.text} for c in plan.checks],
        "cilium_values": _plain(plan.cilium_values),
        "outputs": [{"name": n, "secret": s} for n, s in outputs(plan)],
    }


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


def raw_stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stack file's config with overrides, keys namespaced as run_program does."""
    project = project_name()
    raw = stack_config(stack)
    for k, v in (overrides or {}).items():
        raw[k if ":" in k else f"{project}:{k}"] = v
    return raw


def make_plan(stack: str, overrides: Mapping[str, Any] | None = None) -> Plan:
    """Evaluate the program for a committed stack and build its plan. Raises ConfigError."""
    graph = run_program(stack, overrides=overrides)
    raw = raw_stack_config(stack, overrides)
    config = parse_config(raw, project=graph.project, stack=stack, region=raw.get("aws:region"))
    return build_plan(graph, config)


GRAPHVIZ_MISSING = (
    "--image needs Graphviz's `dot` on PATH, and it was not found.\n"
    "Install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `sudo dnf install graphviz` (Fedora), "
    "`brew install graphviz` (macOS), or see https://graphviz.org/download/.\n"
    "Without it, `--format mermaid` writes the same graph for GitHub or https://mermaid.live to draw."
)


def render_image(plan: Plan, fmt: str, path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise PlanError(GRAPHVIZ_MISSING)
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=render_dot(plan), text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise PlanError(f"Graphviz failed to render {path}: {proc.stderr.strip()}")


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value) if value else ""
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cilium_eks.plan",
        description="Offline plan of a stack: component tree, creation waves, critical path, Cilium values and "
                    "outputs, from the real program under the mock engine (no AWS, no Pulumi CLI).")
    p.add_argument("--stack", default="dev", help="a committed Pulumi.<stack>.yaml (default: dev)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text report (stdout), Mermaid dependency graph, or JSON (default: text)")
    p.add_argument("--output", type=Path, default=None,
                   help="file for the mermaid/json document (default: stdout) or, with --image and the text "
                        "format, for the image (default: plan-<stack>.<png|svg>)")
    p.add_argument("--image", choices=IMAGE_FORMATS, default=None,
                   help="also draw the dependency graph with Graphviz `dot` (must be installed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for this plan only (value read as YAML), e.g. "
                        "--set ciliumKubeProxyReplacement=true; repeatable")
    return p


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 on usage errors, 0 for --help
        return int(e.code or 0) if isinstance(e.code, int | type(None)) else EXIT_USAGE

    stacks = stack_files()
    if args.stack not in stacks:
        print(f"unknown stack '{args.stack}': there is no Pulumi.{args.stack}.yaml. "
              f"Stacks: {', '.join(stacks) or 'none'}", file=sys.stderr)
        return EXIT_USAGE
    try:
        overrides = _parse_set(args.set)
    except (ValueError, yaml.YAMLError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    if args.image and shutil.which("dot") is None:
        print(GRAPHVIZ_MISSING, file=sys.stderr)
        return EXIT_FAILED

    try:
        plan = make_plan(args.stack, overrides)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        print(f"plan of stack '{args.stack}' failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED

    try:
        if args.format == "text":
            sys.stdout.write(render_text(plan))
        else:
            doc = render_mermaid(plan) if args.format == "mermaid" else json.dumps(to_json(plan), indent=2) + "\n"
            if args.output is None:
                sys.stdout.write(doc)
            else:
                _write(args.output, doc)
        if args.image:
            if args.output is None:
                target = Path(f"plan-{args.stack}.{args.image}")
            elif args.format == "text":
                target = args.output
            else:
                target = args.output.with_suffix(f".{args.image}")
            render_image(plan, args.image, target)
            print(f"wrote {target}", file=sys.stderr)
    except (PlanError, OSError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
