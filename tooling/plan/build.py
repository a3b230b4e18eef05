"""Building the plan from the recorded graph: steps, waits, waves, the critical path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cilium_eks.cilium import CHART, OUTPUT_VALUES, chart_name
from cilium_eks.config import StackConfig, parse_config

from ..mockengine import Graph, RecordedResource, namespaced, run_program
from ..stackfiles import stack_config
from .checks import ordering_checks
from .format import fmt_seconds, label
from .model import (
    CRD_ONLY_CHARTS,
    CRD_RELEASE_SECONDS,
    DEFAULT_STEP_SECONDS,
    EKS_ADDON,
    HELM_RELEASE,
    SLOW_STEPS,
    SLOW_THRESHOLD_SECONDS,
    Plan,
    PlanError,
    Step,
)


def _estimate(r: RecordedResource) -> tuple[int, str]:
    if r.type.startswith("pulumi:providers:"):
        return 0, ""
    if r.type == HELM_RELEASE and chart_name(r.inputs.get("chart")) in CRD_ONLY_CHARTS:
        return CRD_RELEASE_SECONDS, "Helm release of CRDs only: waits until they are Established"
    if r.type == HELM_RELEASE and not r.inputs.get("skipAwait", False):
        timeout = int(r.inputs.get("timeout") or 300)
        return timeout, f"Helm release waits for every pod to be ready (up to {timeout} s)"
    if r.type == "command:local:Command" and str(r.inputs.get("create", "")).strip() == "true":
        return 0, "nothing to do on create (it acts on destroy)"
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
        steps[urn] = Step(urn=urn, name=r.name, label=label(r.name, prefix), type=r.type, remote=r.remote,
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
                   *((a, f"inherited from {label(a.name, prefix)}: ") for a in ancestors(urn))]
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

        def bylabel(urns: Iterable[str]) -> list[str]:
            return sorted(urns, key=lambda u: steps[u].label)

        # max() keeps the first of equals: ties go to the alphabetically first step.
        cur: str | None = max(bylabel(steps), key=lambda u: (finish(u), -wave[u]))
        while cur is not None:
            critical.append(cur)
            deps = waits[cur]
            cur = max(bylabel(deps), key=finish) if deps else None
        critical.reverse()

    plan = Plan(graph=graph, config=config, steps=steps, waits=waits, reduced=reduced, wave=wave, start=start,
                critical_path=critical, cilium_values=cilium_values(graph), checks=[])
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


def _shown(values: Any, path: str = "") -> Any:
    """The recorded values, with the leaves that carry another resource's output (the mock
    engine's made-up ids) shown as what they will be."""
    if path in OUTPUT_VALUES:
        return OUTPUT_VALUES[path]
    if isinstance(values, Mapping):
        return {k: _shown(v, f"{path}.{k}" if path else str(k)) for k, v in values.items()}
    return values


def cilium_values(graph: Graph) -> dict[str, Any] | None:
    """The values of the stack's one Cilium release, as the engine receives them."""
    releases = [r for r in graph if r.type == HELM_RELEASE and chart_name(r.inputs.get("chart")) == CHART]
    if len(releases) != 1:
        return None
    return _shown(releases[0].inputs.get("values") or {})


def make_plan(stack: str, overrides: Mapping[str, Any] | None = None) -> Plan:
    """Evaluate the program for a committed stack and build its plan. Raises ConfigError."""
    graph = run_program(stack, overrides=overrides)
    raw = namespaced(stack_config(stack), graph.project, overrides)
    config = parse_config(raw, project=graph.project, stack=stack, region=raw.get("aws:region"))
    return build_plan(graph, config)
