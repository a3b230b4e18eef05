"""The CrossGuard pack (policies/) against the program's own resource graph.

Every committed stack's graph, recorded by the one mock engine, goes through the policy
SDK's analyzer exactly as the engine would send it (policies.adapter): no mandatory
violation may fire. Then, for every rule, the same graph with one thing broken must make
that rule, and only that rule, fire with a message saying what, why and how to fix it.
Graphs are the cached committed ones, deep-copied before a mutation.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import json
import os
import re
import runpy
import subprocess
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import pulumi_policy
import pytest

from cilium_eks.cilium import AGENT_NOT_READY_TAINT, chart_name
from cilium_eks.cilium import CHART as CILIUM_CHART
from cilium_eks.cilium import DEFAULT_VERSION as DEFAULT_CILIUM_VERSION
from cilium_eks.cilium import REMOVED_VALUES as REMOVED_CILIUM_VALUES
from cilium_eks.operator_iam import ACTIONS_ALWAYS as OPERATOR_ACTIONS_ALWAYS
from cilium_eks.operator_iam import ACTIONS_CONDITIONAL as OPERATOR_ACTIONS_CONDITIONAL
from policies import guardrails as rules
from policies.guardrails import resources, schemas
from tests.conftest import committed_graph, graph_with
from tooling import mockengine
from tooling import policy_adapter as adapter
from tooling.mockengine import Graph, RecordedResource
from tooling.paths import PROJECT_DIR
from tooling.policy_adapter import Evaluation, Violation, evaluate
from tooling.stackfiles import stack_config

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
RULE_NAMES = [
    "eks-no-default-node-group", "cilium-eni-mode", "cilium-version-pinned", "cilium-release-does-not-wait",
    "nodes-join-after-cilium", "vpc-cni-disabled", "cilium-operator-least-privilege", "hubble-observability",
    "eks-api-not-public", "eks-secrets-encrypted", "eks-control-plane-logs", "cilium-known-bad-combinations",
    "node-capacity", "karpenter-nodepools", "stack-config-valid", "traffic-encrypted",
]
STACK_POLICIES = {"nodes-join-after-cilium", "vpc-cni-disabled", "cilium-operator-least-privilege", "node-capacity",
                  "karpenter-nodepools", "stack-config-valid"}
ADVISORY_BY_DEFAULT = {"hubble-observability", "eks-secrets-encrypted", "eks-control-plane-logs"}
#: Mandatory in a production (strict) stack, advisory in a development one.
STRICT_ONLY_IN_PRODUCTION = {"eks-api-not-public", "cilium-known-bad-combinations", "traffic-encrypted"}


# --------------------------------------------------------------------------------------
# Graphs and evaluations (cached; mutations work on deep copies)
# --------------------------------------------------------------------------------------


@functools.cache
def baseline(stack: str) -> Evaluation:
    return evaluate(committed_graph(stack))


@functools.cache
def delete_mode_graph() -> Graph:
    return graph_with("dev", awsNodeMode="delete")


def mutable(stack: str) -> Graph:
    return copy.deepcopy(committed_graph(stack))


def one(graph: Graph, type_: str, where: Callable[[RecordedResource], bool] = lambda r: True) -> RecordedResource:
    found = [r for r in graph if r.type == type_ and where(r)]
    assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
    return found[0]


def release(graph: Graph) -> RecordedResource:
    return one(graph, resources.HELM_RELEASE, lambda r: r.inputs.get("chart") == CILIUM_CHART)


def eks_cluster(graph: Graph) -> RecordedResource:
    return one(graph, resources.EKS_CLUSTER)


def operator_role(graph: Graph) -> RecordedResource:
    urns = set(release(graph).property_dependencies["values"])
    return one(graph, resources.IAM_ROLE, lambda r: r.urn in urns)


def operator_policy(graph: Graph) -> RecordedResource:
    attachment = one(graph, resources.IAM_ROLE_POLICY_ATTACHMENT,
                     lambda r: operator_role(graph).urn in r.property_dependencies.get("role", ()))
    return graph.get(attachment.property_dependencies["policyArn"][0])


def set_prop(r: RecordedResource, key: str, value: Any) -> None:
    """Change an input and, as the provider would echo it, the matching output."""
    r.inputs[key] = value
    if r.custom or r.synthetic:
        r.outputs[key] = value


def drop_prop(r: RecordedResource, key: str) -> None:
    r.inputs.pop(key, None)
    r.outputs.pop(key, None)


def drop_dependency(r: RecordedResource, urn: str) -> None:
    r.dependencies = tuple(d for d in r.dependencies if d != urn)
    r.property_dependencies = {k: tuple(d for d in v if d != urn) for k, v in r.property_dependencies.items()}


def add_child(graph: Graph, parent: RecordedResource, type_: str, name: str, props: dict[str, Any], *,
              custom: bool, synthetic: bool = True, property_dependencies: dict[str, tuple[str, ...]] | None = None,
              ) -> RecordedResource:
    """A resource under ``parent``, shaped like the mock engine records one."""
    urn = f"urn:pulumi:{graph.stack}::{graph.project}::{parent.urn.split('::')[2]}${type_}::{name}"
    deps = property_dependencies or {}
    r = RecordedResource(urn=urn, type=type_, name=name, custom=custom, remote=False, parent=parent.urn,
                         provider=None, inputs=props, dependencies=tuple(u for v in deps.values() for u in v),
                         property_dependencies=deps, outputs=props, id=name if custom else None,
                         synthetic=synthetic)
    graph.resources[urn] = r
    return r


def user_data_with_taint(user_data: str, key: str, effect: str | None) -> str:
    """Launch-template user data (base64 MIME, as pulumi-eks writes it: kubelet flags in a
    nodeadm NodeConfig's JSON list) with the ``--register-with-taints`` entries for ``key``
    removed (``effect`` None) or given ``effect``; every other byte is kept."""
    text = base64.b64decode(user_data).decode()

    def edit(m: re.Match[str]) -> str:
        kept = []
        for spec in m[2].split(","):  # key=value:Effect
            key_value = spec.split(":", 1)[0]
            if key_value.split("=", 1)[0] != key:
                kept.append(spec)
            elif effect is not None:
                kept.append(f"{key_value}:{effect}")
        if kept:
            return f'{m[1] or ""}"--register-with-taints={",".join(kept)}"{m[3] or ""}'
        return m[3] if m[1] and m[3] else ""  # drop the list element and exactly one of its commas

    edited, n = re.subn(r'(,\s*)?"--register-with-taints=([^"]*)"(\s*,\s*)?', edit, text)
    assert n >= 1, "no --register-with-taints flag in the user data"
    for part in edited.split("--BOUNDARY"):
        if part.strip().startswith("Content-Type: application/node.eks.aws"):
            json.loads(part.split("\n\n", 1)[1].strip().removeprefix("---"))  # still a NodeConfig
    return base64.b64encode(edited.encode()).decode()


def new_violations(stack: str, ev: Evaluation, base: Evaluation | None = None) -> list[Violation]:
    before = set((base or baseline(stack)).violations)
    return [v for v in ev.violations if v not in before]


def assert_only(stack: str, ev: Evaluation, policy: str, *fragments: str, level: str = "mandatory",
                base: Evaluation | None = None) -> list[Violation]:
    """Exactly ``policy`` gained violations, at ``level``, each saying what, why and how to
    fix, and together containing every fragment."""
    new = new_violations(stack, ev, base)
    summary = "\n".join(f"[{v.level}] {v.policy} {v.resource}: {v.message}" for v in new)
    assert {v.policy for v in new} == {policy}, summary
    assert {v.level for v in new} == {level}, summary
    assert all(re.search(r"\S.*\nWhy: \S.*\nFix: \S", v.message) for v in new), summary
    for fragment in fragments:
        assert any(fragment in v.message for v in new), f"{fragment!r} not in:\n{summary}"
    return new


# --------------------------------------------------------------------------------------
# The pack itself
# --------------------------------------------------------------------------------------


class _Boom:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a PolicyPack was created: that starts the policy server")


def test_rules_import_without_starting_the_policy_server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pulumi_policy, "PolicyPack", _Boom)
    monkeypatch.setattr(pulumi_policy.policy, "PolicyPack", _Boom)
    for name in [m for m in sys.modules if m == "policies" or m.startswith("policies.")]:
        monkeypatch.delitem(sys.modules, name)
    fresh = importlib.import_module("policies.guardrails")
    importlib.import_module("tooling.policy_adapter")
    assert [p.name for p in fresh.build_policies()] == RULE_NAMES


class _Recorder:
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        _Recorder.calls.append(kwargs)


@pytest.mark.parametrize(("config", "api_level"), [
    ({"cilium-eks:environment": "production"}, pulumi_policy.EnforcementLevel.MANDATORY),
    ({"cilium-eks:environment": "development"}, pulumi_policy.EnforcementLevel.ADVISORY),
    ({}, pulumi_policy.EnforcementLevel.MANDATORY),  # environment unreadable: strict
])
def test_entry_point_builds_the_pack_for_the_stack_it_runs_for(monkeypatch: pytest.MonkeyPatch,
                                                                config: dict[str, str], api_level: Any):
    monkeypatch.setattr(pulumi_policy, "PolicyPack", _Recorder)
    monkeypatch.setenv("PULUMI_PROJECT", "cilium-eks")
    monkeypatch.setenv("PULUMI_STACK", "any")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    _Recorder.calls.clear()
    # The engine runs the pack with its own folder on sys.path (pulumi.policy's runner).
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "policies"))
    runpy.run_path(str(PROJECT_DIR / "policies" / "__main__.py"), run_name="__main__")
    (call,) = _Recorder.calls
    assert call["name"] == rules.PACK_NAME
    policies = {p.name: p for p in call["policies"]}
    assert list(policies) == RULE_NAMES
    for name, p in policies.items():
        assert isinstance(p, pulumi_policy.StackValidationPolicy) == (name in STACK_POLICIES), name
        expected = (api_level if name in STRICT_ONLY_IN_PRODUCTION else pulumi_policy.EnforcementLevel.ADVISORY
                    if name in ADVISORY_BY_DEFAULT else pulumi_policy.EnforcementLevel.MANDATORY)
        assert p.enforcement_level == expected, name


def test_entry_point_runs_from_the_pack_directory_without_the_program():
    """pulumi's runner (``python -m pulumi.policy``) does runpy.run_path(".") in policies/: only
    policies/ is on sys.path. The pack must run from there with the program, its components and
    the tooling unimportable, as after `pulumi policy publish` (PolicyPack replaced: no server)."""
    code = (
        "import json, runpy, sys, importlib.abc, pulumi_policy\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('cilium_eks', 'components', 'tooling', 'policies'):\n"
        "            raise ImportError(f'the pack imported {name} from outside its folder')\n"
        "sys.meta_path.insert(0, Block())\n"
        "class R:\n"
        "    def __init__(self, **kw):\n"
        "        print(json.dumps([p.name for p in kw['policies']]))\n"
        "pulumi_policy.PolicyPack = R\n"
        "runpy.run_path('.', run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR / "policies", env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == RULE_NAMES


def test_pack_metadata_is_what_the_engine_reads():
    """GetAnalyzerInfo (what the CLI shows and validates --policy-pack-config against)."""
    info = adapter.analyzer(rules.build_policies()).GetAnalyzerInfo(None, None)
    assert info.name == rules.PACK_NAME and info.supportsConfig
    assert [p.name for p in info.policies] == RULE_NAMES
    for p in info.policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", p.name), p.name
        assert p.description.endswith(".")


def test_config_defaults_are_the_production_strict_facts_of_this_project():
    defaults = {r.name: {k: v.get("default") for k, v in r.schema.properties.items()}
                for r in rules.all_rules() if r.schema is not None}
    assert defaults["cilium-version-pinned"]["minimumVersion"] == DEFAULT_CILIUM_VERSION
    assert set(defaults["cilium-operator-least-privilege"]["allowedActions"]) == {
        *OPERATOR_ACTIONS_ALWAYS, *(a for g in OPERATOR_ACTIONS_CONDITIONAL.values() for a in g)}
    assert defaults["hubble-observability"] == {"requireRelay": True, "requireUi": True, "requireTls": True}
    assert defaults["cilium-eni-mode"]["allowValueYamlFiles"] is False


def test_the_graph_holds_what_the_rules_inspect(stack: str):
    """The rules key on these types (what pulumi-eks and the program register); if the
    program stopped producing them, every rule below would pass vacuously."""
    graph = committed_graph(stack)
    types = {r.type for r in graph}
    assert {resources.EKS_CLUSTER_COMPONENT, resources.EKS_CLUSTER, resources.HELM_RELEASE, resources.DAEMONSET_PATCH,
            resources.IAM_ROLE, resources.IAM_POLICY, resources.IAM_ROLE_POLICY_ATTACHMENT,
            "eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup"} <= types
    assert resources.is_cilium_release(resources.HELM_RELEASE, release(graph).inputs)
    assert len(graph.of_type("eks:index:ManagedNodeGroup")) == len(stack_config(stack)["cilium-eks:nodeGroups"])


@pytest.mark.parametrize(("chart", "name"), [
    ("cilium", "cilium"), ("cilium/cilium", "cilium"), ("oci://quay.io/cilium/charts/cilium", "cilium"),
    ("https://helm.cilium.io/cilium-1.20.0.tgz", "cilium"), ("./charts/cilium/", "cilium"),
    ("cilium-enterprise", "cilium-enterprise"), ("", None),
])
def test_chart_names(chart: str, name: str | None):
    assert chart_name(chart) == name


# --------------------------------------------------------------------------------------
# Committed stacks
# --------------------------------------------------------------------------------------


def test_committed_stack_has_no_mandatory_violation(stack: str):
    ev = baseline(stack)
    assert ev.mandatory == [], "\n".join(f"{v.policy} {v.resource}: {v.message}" for v in ev.mandatory)
    assert not [v for v in ev.violations if v.undecided], "a fully known graph leaves nothing undecided"


def _expected_advisories(stack: str) -> set[str]:
    raw = stack_config(stack)
    public = str(raw.get("cilium-eks:endpointPublicAccess", True)).lower() == "true"
    cidrs = raw.get("cilium-eks:publicAccessCidrs") or []
    logs = raw.get("cilium-eks:clusterLogTypes") or ["api", "audit", "authenticator"]
    out = set()
    if public and "0.0.0.0/0" in cidrs:
        out.add("eks-api-not-public")
    if not {"api", "audit", "authenticator"} <= set(logs):
        out.add("eks-control-plane-logs")
    if raw.get("cilium-eks:ciliumEncryption", "none") == "none":
        out.add("traffic-encrypted")  # advisory where the stack is not production (mandatory there)
    return out


def test_committed_stack_advisories(stack: str):
    ev = baseline(stack)
    assert ev.fired("advisory") == _expected_advisories(stack), [(v.policy, v.message) for v in ev.advisory]


def test_dev_api_cidr_is_advisory_and_names_the_config_key():
    (v,) = baseline("dev").of("eks-api-not-public")
    assert v.level == "advisory"
    assert v.urn == eks_cluster(committed_graph("dev")).urn
    assert "0.0.0.0/0" in v.message and "`cilium-eks:publicAccessCidrs`" in v.message


def test_aws_node_delete_mode_has_no_mandatory_violation():
    graph = delete_mode_graph()
    assert any(r.type == "command:local:Command" for r in graph)
    assert evaluate(graph).mandatory == []


def test_remote_component_inputs_change_nothing_on_committed_stacks(stack: str):
    """An engine that forwards component inputs (pulumi/pulumi#10533) sees the same verdict."""
    assert evaluate(committed_graph(stack), remote_component_inputs=True).violations == baseline(stack).violations


# --------------------------------------------------------------------------------------
# 1. eks-no-default-node-group
# --------------------------------------------------------------------------------------


def _with_default_node_group(graph: Graph) -> Graph:
    cluster = one(graph, resources.EKS_CLUSTER_COMPONENT)
    cluster.inputs["skipDefaultNodeGroup"] = False
    # What pulumi-eks registers (and the mock engine records) without skipDefaultNodeGroup.
    add_child(graph, cluster, "eks:index:NodeGroupV2", cluster.name, {"clusterName": cluster.inputs["name"]},
              custom=False)
    return graph


def test_default_node_group_is_refused(stack: str):
    ev = evaluate(_with_default_node_group(mutable(stack)))
    (v,) = assert_only(stack, ev, "eks-no-default-node-group", "is the default node group of EKS cluster",
                       "skip_default_node_group=True", "`cilium-eks:nodeGroups`")
    assert v.resource == one(committed_graph(stack), resources.EKS_CLUSTER_COMPONENT).name


def test_default_node_group_is_refused_from_component_inputs_where_the_engine_passes_them():
    graph = mutable("dev")
    one(graph, resources.EKS_CLUSTER_COMPONENT).inputs["skipDefaultNodeGroup"] = False
    base = evaluate(committed_graph("dev"), remote_component_inputs=True)
    assert_only("dev", evaluate(graph, remote_component_inputs=True), "eks-no-default-node-group",
                "sets skipDefaultNodeGroup to False", base=base)
    # ... and, as pulumi-eks's provider sends no component inputs, nothing without them.
    assert evaluate(graph).violations == baseline("dev").violations


# --------------------------------------------------------------------------------------
# 2. cilium-eni-mode
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda v: v.update(tunnel="disabled"), "`tunnel` is " + REMOVED_CILIUM_VALUES["tunnel"]),
    (lambda v: v.update(egressMasqueradeInterfaces="eth0"), "sets `egressMasqueradeInterfaces`"),
    (lambda v: v["eni"].update(enabled=False), "eni.enabled=False; it must be true"),
    (lambda v: v["ipam"].update(mode="cluster-pool"), "ipam.mode='cluster-pool'; it must be `eni`"),
    (lambda v: v.update(routingMode="tunnel"), "routingMode='tunnel'; it must be `native`"),
], ids=["tunnel", "egress-masquerade", "eni-disabled", "ipam-cluster-pool", "routing-tunnel"])
def test_cilium_outside_eni_native_routing_is_refused(stack: str, change: Callable[[dict[str, Any]], None],
                                                       fragment: str):
    graph = mutable(stack)
    change(release(graph).inputs["values"])
    assert_only(stack, evaluate(graph), "cilium-eni-mode", fragment, "Fix: ")


def test_removed_values_are_configurable():
    graph = mutable("dev")
    release(graph).inputs["values"]["bpf"] = {"masquerade": True}
    assert evaluate(graph).violations == baseline("dev").violations
    ev = evaluate(graph, pack_config={"cilium-eni-mode": {"removedValues": ["bpf.masquerade"]}})
    assert_only("dev", ev, "cilium-eni-mode", "sets `bpf.masquerade`")


def test_value_files_the_pack_cannot_read_are_refused():
    graph = mutable("prod")
    set_prop(release(graph), "valueYamlFiles", [{"path": "values-extra.yaml"}])
    assert_only("prod", evaluate(graph), "cilium-eni-mode", "valueYamlFiles")


# --------------------------------------------------------------------------------------
# 3. cilium-version-pinned
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "fragment"), [
    ("1.20", "chart version '1.20', not an exact x.y.z"),
    ("^1.20.0", "not an exact x.y.z"),
    ("1.19.3", "older than the allowed minimum 1.20.0"),
    (None, "pins no chart version"),
])
def test_unpinned_or_old_cilium_is_refused(stack: str, version: str | None, fragment: str):
    graph = mutable(stack)
    rel = release(graph)
    if version is None:
        drop_prop(rel, "version")
    else:
        set_prop(rel, "version", version)
    assert_only(stack, evaluate(graph), "cilium-version-pinned", fragment, "cilium-eks:ciliumVersion")


def test_version_floor_is_configurable():
    graph = mutable("prod")
    set_prop(release(graph), "version", "1.19.3")
    ev = evaluate(graph, pack_config={"cilium-version-pinned": {"minimumVersion": "1.16.0"}})
    assert ev.violations == baseline("prod").violations


# --------------------------------------------------------------------------------------
# 4. cilium-release-does-not-wait
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("skipAwait", False, "waits for its resources to become ready (skipAwait is False)"),
    ("skipAwait", None, "(skipAwait is not set, and the provider defaults to waiting)"),
    ("atomic", True, "sets atomic: true"),
], ids=["skip-await-false", "skip-await-unset", "atomic"])
def test_waiting_cilium_release_is_refused(stack: str, key: str, value: bool | None, fragment: str):
    graph = mutable(stack)
    if value is None:
        drop_prop(release(graph), key)
    else:
        set_prop(release(graph), key, value)
    assert_only(stack, evaluate(graph), "cilium-release-does-not-wait", fragment, "deadlock",
                "components/cilium.py")


def test_the_cilium_release_is_recognised_by_its_chart_not_its_name():
    graph = mutable("dev")
    rel = release(graph)
    set_prop(rel, "chart", "oci://quay.io/cilium/charts/cilium")
    set_prop(rel, "name", "cni")
    set_prop(rel, "skipAwait", False)
    assert_only("dev", evaluate(graph), "cilium-release-does-not-wait", "Cilium release `cni`")

    graph = mutable("dev")
    other = copy.deepcopy(release(graph))
    other.urn, other.name = other.urn.replace("-cilium-release", "-lbc-release"), "lbc-release"
    other.inputs.update(chart="aws-load-balancer-controller", name="cilium", skipAwait=False, version="1.13")
    other.inputs["values"] = {"tunnel": "vxlan"}
    graph.resources[other.urn] = other
    assert evaluate(graph).violations == baseline("dev").violations


# --------------------------------------------------------------------------------------
# 5. nodes-join-after-cilium
# --------------------------------------------------------------------------------------


def test_node_group_not_waiting_for_cilium_is_refused(stack: str):
    graph = mutable(stack)
    group = sorted(graph.of_type("eks:index:ManagedNodeGroup"), key=lambda r: r.name)[0]
    drop_dependency(group, release(graph).urn)
    (v,) = assert_only(stack, evaluate(graph), "nodes-join-after-cilium",
                       "does not depend on the Cilium release", "NodeGroupArgs.cilium_release")
    assert v.urn == group.urn


def test_node_group_waiting_through_its_parent_component_is_accepted():
    graph = mutable("dev")
    group = one(graph, "eks:index:ManagedNodeGroup")
    drop_dependency(group, release(graph).urn)
    parent = graph.get(str(group.parent))
    parent.dependencies = (*parent.dependencies, release(graph).urn)
    assert evaluate(graph).violations == baseline("dev").violations


@pytest.mark.parametrize("taints", [None, [{"key": AGENT_NOT_READY_TAINT["key"], "value": "true",
                                            "effect": "NO_SCHEDULE"}]], ids=["missing", "no-schedule"])
def test_node_group_without_the_agent_not_ready_taint_is_refused(stack: str, taints: Any):
    graph = mutable(stack)
    group = sorted(graph.of_type("eks:index:ManagedNodeGroup"), key=lambda r: r.name)[0]
    # The component's input, what pulumi-eks passes on to the EKS node group, and the kubelet
    # flags it writes into the launch template's user data (which the rule reads too).
    for r in [group, *graph.descendants(group.urn)]:
        if "taints" not in r.inputs:
            continue
        if taints is None:
            drop_prop(r, "taints")
        else:
            set_prop(r, "taints", taints)
    [template] = [r for r in graph.descendants(group.urn) if r.type == LAUNCH_TEMPLATE]
    key = AGENT_NOT_READY_TAINT["key"]
    assert resources.declared_taints(template.inputs) == [(key, "NoExecute")], "the user data carries it"
    set_prop(template, "userData", user_data_with_taint(template.inputs["userData"], key,
                                                        None if taints is None else "NoSchedule"))
    assert resources.declared_taints(template.inputs) == ([] if taints is None else [(key, "NoSchedule")])
    (v,) = assert_only(stack, evaluate(graph), "nodes-join-after-cilium",
                       f"does not carry the taint {AGENT_NOT_READY_TAINT['key']}=true:NoExecute",
                       "AGENT_NOT_READY_TAINT")
    assert v.urn == group.urn


def test_the_taint_in_the_launch_templates_user_data_alone_counts(stack: str):
    # Why the mutation above must strip the user data: the kubelet registers the taint from it.
    graph = mutable(stack)
    group = sorted(graph.of_type("eks:index:ManagedNodeGroup"), key=lambda r: r.name)[0]
    for r in [group, *graph.descendants(group.urn)]:
        drop_prop(r, "taints")
    assert evaluate(graph).violations == baseline(stack).violations


# --------------------------------------------------------------------------------------
# 6. vpc-cni-disabled
# --------------------------------------------------------------------------------------


def _aws_node_disabler(graph: Graph) -> RecordedResource:
    found = [r for r in graph if r.type in (resources.DAEMONSET_PATCH, "command:local:Command")
             and "-aws-node-aws-node-" in r.name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_aws_node_left_running_is_refused(stack: str):
    graph = mutable(stack)
    patch = _aws_node_disabler(graph)
    del graph.resources[patch.urn]
    drop_dependency(release(graph), patch.urn)
    assert_only(stack, evaluate(graph), "vpc-cni-disabled", "Nothing in the stack disables aws-node",
                "`cilium-eks:awsNodeMode`")


@pytest.mark.parametrize("mode", ["patch", "delete"])
def test_cilium_not_waiting_for_the_aws_node_removal_is_refused(mode: str):
    graph = mutable("dev") if mode == "patch" else copy.deepcopy(delete_mode_graph())
    base = baseline("dev") if mode == "patch" else evaluate(delete_mode_graph())
    drop_dependency(release(graph), _aws_node_disabler(graph).urn)
    assert_only("dev", evaluate(graph), "vpc-cni-disabled", "which disables aws-node",
                "CiliumArgs.cni_removed", base=base)


def test_patch_that_does_not_disable_aws_node_counts_as_none():
    graph = mutable("prod")
    patch = _aws_node_disabler(graph)
    patch.inputs["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    assert_only("prod", evaluate(graph), "vpc-cni-disabled", "Nothing in the stack disables aws-node")


def test_cluster_created_without_self_managed_addons_needs_no_removal():
    graph = mutable("dev")
    patch = _aws_node_disabler(graph)
    del graph.resources[patch.urn]
    drop_dependency(release(graph), patch.urn)
    eks_cluster(graph).inputs["bootstrapSelfManagedAddons"] = False  # inputs and outputs: one dict
    assert evaluate(graph).violations == baseline("dev").violations


def test_managed_vpc_cni_addon_is_refused(stack: str):
    graph = mutable(stack)
    cluster = one(graph, resources.EKS_CLUSTER_COMPONENT)
    # What the mock engine (like pulumi-eks) registers with useDefaultVpcCni=False.
    add_child(graph, cluster, resources.EKS_VPC_CNI_ADDON, f"{cluster.name}-vpc-cni",
              {"clusterName": cluster.inputs["name"]}, custom=False)
    assert_only(stack, evaluate(graph), "vpc-cni-disabled", "managed vpc-cni add-on", "use_default_vpc_cni=True")


# --------------------------------------------------------------------------------------
# 7. cilium-operator-least-privilege
# --------------------------------------------------------------------------------------


def _edit_policy(graph: Graph, edit: Callable[[dict[str, Any]], None]) -> None:
    policy = operator_policy(graph)
    doc = json.loads(policy.inputs["policy"])
    edit(doc["Statement"][0])
    set_prop(policy, "policy", json.dumps(doc))


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda st: st.update(Action=["ec2:*"]), "grants the wildcard action `ec2:*`"),
    (lambda st: st.update(Action="*"), "grants the wildcard action `*`"),
    (lambda st: st["Action"].append("iam:PassRole"), "grants `iam:PassRole`: IAM access"),
    (lambda st: st["Action"].append("sts:AssumeRole"), "grants `sts:AssumeRole`: STS access"),
    (lambda st: st["Action"].append("ec2:RunInstances"), "grants `ec2:RunInstances`, which is not in the allowed"),
    (lambda st: st.update(NotAction=["iam:*"]), "uses NotAction"),
], ids=["ec2-wildcard", "star", "iam", "sts", "not-allowed", "not-action"])
def test_operator_policy_beyond_the_eni_actions_is_refused(stack: str, edit: Callable[[dict[str, Any]], None],
                                                            fragment: str):
    graph = mutable(stack)
    _edit_policy(graph, edit)
    (v,) = assert_only(stack, evaluate(graph), "cilium-operator-least-privilege", fragment, "allowedActions")
    assert v.urn == operator_policy(committed_graph(stack)).urn


def test_allowed_actions_are_configurable():
    graph = mutable("dev")
    _edit_policy(graph, lambda st: st["Action"].append("ec2:DescribeAvailabilityZones"))
    allowed = [*schemas.OPERATOR_ALLOWED_ACTIONS, "ec2:DescribeAvailabilityZones"]
    ev = evaluate(graph, pack_config={"cilium-operator-least-privilege": {"allowedActions": allowed}})
    assert ev.violations == baseline("dev").violations


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda st: st["Condition"].update(StringLike={k: "system:serviceaccount:kube-system:*"
                                                   for k in st["Condition"].pop("StringEquals") if k.endswith(":sub")}),
     "is not limited (StringEquals <issuer>:sub)"),
    (lambda st: st.update(Principal={"AWS": "*"}), 'trusts {"AWS": "*"}'),
    (lambda st: st.update(Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]),
     "instead of only sts:AssumeRoleWithWebIdentity"),
], ids=["wildcard-subject", "any-aws-principal", "extra-action"])
def test_operator_trust_beyond_its_service_account_is_refused(stack: str, edit: Callable[[dict[str, Any]], None],
                                                               fragment: str):
    graph = mutable(stack)
    role = operator_role(graph)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    edit(trust["Statement"][0])
    set_prop(role, "assumeRolePolicy", json.dumps(trust))
    assert_only(stack, evaluate(graph), "cilium-operator-least-privilege", fragment,
                "system:serviceaccount:kube-system:cilium-operator")


def test_managed_policy_on_the_operator_role_is_refused():
    graph = mutable("prod")
    role = operator_role(graph)
    add_child(graph, graph.get(str(role.parent)), resources.IAM_ROLE_POLICY_ATTACHMENT, "operator-ec2-full",
              {"policyArn": "arn:aws:iam::aws:policy/AmazonEC2FullAccess", "role": role.outputs["name"]},
              custom=True, synthetic=False, property_dependencies={"role": (role.urn,)})
    assert_only("prod", evaluate(graph), "cilium-operator-least-privilege",
                "attached policy arn:aws:iam::aws:policy/AmazonEC2FullAccess, which this stack does not declare")


def test_preview_unknowns_defer_only_what_cannot_be_seen():
    """In a first preview the trust policy (built from the OIDC provider) and eni.iamRole are
    unknown; the permissions document is not. The rule checks what it can and leaves the
    SDK's advisory "can't run policy ... during preview" note for the rest."""
    graph = mutable("dev")
    role = operator_role(graph)
    set_prop(role, "assumeRolePolicy", mockengine.UNKNOWN)
    set_prop(role, "arn", mockengine.UNKNOWN)
    release(graph).inputs["values"]["eni"]["iamRole"] = mockengine.UNKNOWN
    ev = evaluate(graph)
    assert ev.mandatory == []
    (note,) = [v for v in ev.violations if v.undecided]
    assert note.policy == "cilium-operator-least-privilege" and note.level == "advisory"
    assert "assumeRolePolicy" in note.message

    _edit_policy(graph, lambda st: st.update(Action=["ec2:*"]))
    ev = evaluate(graph)
    assert [v.policy for v in ev.mandatory] == ["cilium-operator-least-privilege"]
    assert "wildcard action `ec2:*`" in ev.mandatory[0].message


# --------------------------------------------------------------------------------------
# 8. hubble-observability
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "fragment"), [
    ("ui", "hubble.ui.enabled=False"), ("relay", "hubble.relay.enabled=False"), ("tls", "hubble.tls.enabled=False"),
])
def test_hubble_without_relay_ui_or_tls_is_reported(stack: str, key: str, fragment: str):
    graph = mutable(stack)
    release(graph).inputs["values"]["hubble"][key]["enabled"] = False
    assert_only(stack, evaluate(graph), "hubble-observability", fragment, "hubble_values", level="advisory")


def test_hubble_requirements_are_configurable():
    graph = mutable("dev")
    release(graph).inputs["values"]["hubble"]["ui"]["enabled"] = False
    ev = evaluate(graph, pack_config={"hubble-observability": {"requireUi": False}})
    assert ev.violations == baseline("dev").violations


def test_internet_facing_hubble_ui_is_reported():
    graph = mutable("prod")
    service = one(graph, resources.SERVICE, lambda r: r.inputs["spec"].get("selector") == {"k8s-app": "hubble-ui"})
    service.inputs["metadata"]["annotations"] = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    (v,) = assert_only("prod", evaluate(graph), "hubble-observability", "internet-facing load balancer",
                       "`cilium-eks:hubbleUiAccess`", level="advisory")
    assert v.urn == service.urn


def test_hubble_ui_load_balancer_from_chart_values_is_reported():
    graph = mutable("dev")
    release(graph).inputs["values"]["hubble"]["ui"]["service"] = {"type": "LoadBalancer"}
    assert_only("dev", evaluate(graph), "hubble-observability", "puts hubble-ui behind an internet-facing",
                level="advisory")


def test_hubble_observability_can_be_made_mandatory():
    graph = mutable("dev")
    release(graph).inputs["values"]["hubble"]["ui"]["enabled"] = False
    ev = evaluate(graph, pack_config={"hubble-observability": "mandatory"})
    assert_only("dev", ev, "hubble-observability", "hubble.ui.enabled=False", level="mandatory")


# --------------------------------------------------------------------------------------
# 9. eks-api-not-public
# --------------------------------------------------------------------------------------


def test_open_api_endpoint_on_prod_is_refused():
    graph = mutable("prod")
    eks_cluster(graph).inputs["vpcConfig"]["publicAccessCidrs"] = ["203.0.113.0/24", "0.0.0.0/0"]
    (v,) = assert_only("prod", evaluate(graph), "eks-api-not-public", "public API endpoint open to 0.0.0.0/0",
                       "`cilium-eks:publicAccessCidrs`", "`cilium-eks:endpointPublicAccess`")
    assert v.urn == eks_cluster(graph).urn


def test_public_endpoint_without_cidrs_is_open_to_the_world_on_aws():
    graph = mutable("prod")
    eks_cluster(graph).inputs["vpcConfig"]["publicAccessCidrs"] = []
    assert_only("prod", evaluate(graph), "eks-api-not-public", "the AWS default when no CIDR is listed")


def test_api_rule_level_follows_the_stack_environment_and_the_pack_config():
    graph = committed_graph("dev")
    production = {**stack_config("dev"), "cilium-eks:environment": "production"}
    # The program's own validator (stack-config-valid) refuses 0.0.0.0/0 in a production stack too, and
    # production makes unencrypted pod traffic (dev has none) mandatory as well.
    assert sorted((v.policy, v.level) for v in evaluate(graph, stack_config=production).mandatory) == [
        ("eks-api-not-public", "mandatory"), ("stack-config-valid", "mandatory"), ("traffic-encrypted", "mandatory")]
    forced = evaluate(graph, pack_config={"eks-api-not-public": {"enforcementLevel": "mandatory"}})
    assert [(v.policy, v.level) for v in forced.mandatory] == [("eks-api-not-public", "mandatory")]


def test_private_endpoint_or_narrow_cidrs_silence_the_api_rule():
    graph = mutable("dev")
    eks_cluster(graph).inputs["vpcConfig"]["endpointPublicAccess"] = False
    assert evaluate(graph).of("eks-api-not-public") == []
    graph = mutable("dev")
    eks_cluster(graph).inputs["vpcConfig"]["publicAccessCidrs"] = ["198.51.100.7/32"]
    assert evaluate(graph).of("eks-api-not-public") == []


# --------------------------------------------------------------------------------------
# 10. eks-secrets-encrypted, eks-control-plane-logs
# --------------------------------------------------------------------------------------


def test_unencrypted_secrets_are_reported(stack: str):
    graph = mutable(stack)
    eks_cluster(graph).inputs["encryptionConfig"] = None
    assert_only(stack, evaluate(graph), "eks-secrets-encrypted", "does not envelope-encrypt", level="advisory")


@pytest.mark.parametrize(("logs", "missing"), [([], "api, audit, authenticator"), (["api"], "audit, authenticator")])
def test_missing_control_plane_logs_are_reported(stack: str, logs: list[str], missing: str):
    graph = mutable(stack)
    eks_cluster(graph).inputs["enabledClusterLogTypes"] = logs
    assert_only(stack, evaluate(graph), "eks-control-plane-logs", f"the {missing} control-plane log",
                "`cilium-eks:clusterLogTypes`", level="advisory")
