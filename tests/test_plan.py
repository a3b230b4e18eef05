"""The offline plan: ordering facts read from the recorded graph, and the CLI contract
(`python -m tooling.plan`, which `make plan` and scripts/stack build on)."""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import stat
from pathlib import Path

import pytest

from cilium_eks.cilium import OUTPUT_VALUES
from cilium_eks.config import parse_config
from tests.conftest import committed_graph
from tooling import mockengine, plan
from tooling.mockengine import Graph
from tooling.plan.__main__ import main as plan_main
from tooling.plan.model import EKS_CLUSTER, EKS_NODE_GROUP, HELM_RELEASE
from tooling.stackfiles import stack_config


def plan_of(graph: Graph) -> plan.Plan:
    raw = stack_config(graph.stack)
    cfg = parse_config(raw, project=graph.project, stack=graph.stack, region=raw.get("aws:region"))
    return plan.build_plan(graph, cfg)


@pytest.fixture
def stack_plan(stack: str) -> plan.Plan:
    return plan_of(committed_graph(stack))


def only(urns: list[str]) -> str:
    assert len(urns) == 1, urns
    return urns[0]


def steps_with(p: plan.Plan, type_: str) -> list[str]:
    """The steps that are, or whose pulumi-eks members are, of a type."""
    return sorted(u for u, s in p.steps.items() if s.type == type_ or any(m.type == type_ for m in s.members))


def release_of(p: plan.Plan) -> str:
    return only([u for u in steps_with(p, HELM_RELEASE) if p.graph.get(u).inputs.get("chart") == "cilium"])


def eks_cluster_steps(p: plan.Plan) -> list[str]:
    return steps_with(p, EKS_CLUSTER)


def node_group_steps(p: plan.Plan) -> list[str]:
    return steps_with(p, EKS_NODE_GROUP)


def aws_node_steps(p: plan.Plan) -> list[str]:
    removal = [r.urn for r in p.graph if r.type == "cilium-eks:components:AwsNodeRemoval"]
    return sorted(u for u in p.steps if any(a.urn in removal for a in p.graph.ancestors(u)))


# --------------------------------------------------------------------------------------
# Ordering facts, for every committed stack
# --------------------------------------------------------------------------------------


def test_release_comes_after_the_eks_cluster_and_the_aws_node_removal(stack_plan: plan.Plan) -> None:
    release = release_of(stack_plan)
    cluster = only(eks_cluster_steps(stack_plan))
    removal = aws_node_steps(stack_plan)
    assert removal, "the aws-node patch (or delete command) must be a step of its own"
    assert stack_plan.wave[release] > stack_plan.wave[cluster]
    for step in removal:
        assert stack_plan.wave[release] > stack_plan.wave[step]


def test_aws_node_patch_waits_for_the_cluster_through_its_provider(stack_plan: plan.Plan) -> None:
    # The patch has no recorded dependency at all; only its provider ties it to the cluster.
    cluster = only(eks_cluster_steps(stack_plan))
    for step in aws_node_steps(stack_plan):
        assert stack_plan.graph.waits_for(step, cluster)
        assert stack_plan.wave[step] > stack_plan.wave[cluster]


def test_every_node_group_is_in_a_later_wave_than_the_release(stack_plan: plan.Plan) -> None:
    release = release_of(stack_plan)
    groups = node_group_steps(stack_plan)
    raw = stack_config(stack_plan.graph.stack)
    assert len(groups) == len(raw["cilium-eks:nodeGroups"])
    for g in groups:
        assert stack_plan.wave[g] > stack_plan.wave[release]
        assert "depends_on" in stack_plan.waits[g][release]


def test_critical_path_runs_through_the_control_plane_the_release_and_a_node_group(stack_plan: plan.Plan) -> None:
    path = stack_plan.critical_path
    cluster = only(eks_cluster_steps(stack_plan))
    assert cluster in path
    assert release_of(stack_plan) in path
    assert set(path) & set(node_group_steps(stack_plan))
    # A chain: each step waits for the one before it, and starts when it is done.
    for before, after in itertools.pairwise(path):
        assert before in stack_plan.waits[after]
        assert stack_plan.start[after] == stack_plan.finish(before)
    assert stack_plan.total_seconds >= 600 + 60 + 240  # control plane, release, node group


def test_waves_and_start_times_respect_every_wait(stack_plan: plan.Plan) -> None:
    for urn, deps in stack_plan.waits.items():
        for dep in deps:
            assert stack_plan.wave[dep] < stack_plan.wave[urn]
            assert stack_plan.start[urn] >= stack_plan.finish(dep)
    assert sorted(u for wave in stack_plan.waves for u in wave) == sorted(stack_plan.steps)


def test_pulumi_eks_children_come_up_with_their_remote_parent(stack_plan: plan.Plan) -> None:
    g = stack_plan.graph
    synthetic = [r for r in g if r.synthetic]
    assert synthetic
    members = {m.urn: s for s in stack_plan.steps.values() for m in s.members}
    for r in synthetic:
        assert r.urn not in stack_plan.steps
        owner = members[r.urn]
        assert owner.remote and r.urn in {d.urn for d in g.descendants(owner.urn)}
    eks = stack_plan.step_of_name(f"{stack_plan.prefix}-cluster-eks")
    assert any(m.type == EKS_CLUSTER for m in eks.members)
    assert eks.seconds >= 600


def test_every_ordering_check_passes_for_committed_stacks(stack_plan: plan.Plan) -> None:
    assert stack_plan.checks
    assert all(c.ok for c in stack_plan.checks), [c.text for c in stack_plan.checks if not c.ok]


def test_release_does_not_wait_for_pods(stack_plan: plan.Plan) -> None:
    release = stack_plan.steps[release_of(stack_plan)]
    assert release.seconds == 60
    assert "without waiting" in release.note


# --------------------------------------------------------------------------------------
# The model on altered graphs: the checks and the dependency rules can fail
# --------------------------------------------------------------------------------------


def altered(stack: str = "dev") -> Graph:
    return copy.deepcopy(committed_graph(stack))


def test_a_node_group_that_does_not_wait_for_cilium_is_reported() -> None:
    g = altered()
    base = plan_of(g)
    release = release_of(base)
    mng = g.get(only([u for u in base.steps if g.get(u).type == "eks:index:ManagedNodeGroup"]))
    mng.dependencies = tuple(d for d in mng.dependencies if d != release)
    p = plan_of(g)
    assert release not in p.waits[mng.urn]
    bad = [c for c in p.checks if not c.ok]
    assert len(bad) == 1 and "does NOT wait for cilium-release" in bad[0].text


def test_a_release_that_waits_for_pods_is_reported_as_a_deadlock() -> None:
    g = altered()
    release = g.get(release_of(plan_of(g)))
    release.inputs = {**release.inputs, "skipAwait": False, "timeout": 600}
    p = plan_of(g)
    assert any(not c.ok and "deadlock" in c.text for c in p.checks)
    assert p.steps[release.urn].seconds == 600


def test_a_child_inherits_what_its_parent_component_waits_for() -> None:
    g = altered()
    base = plan_of(g)
    release = release_of(base)
    mng = g.get(only([u for u in base.steps if g.get(u).type == "eks:index:ManagedNodeGroup"]))
    mng.dependencies = tuple(d for d in mng.dependencies if d != release)
    component = g.get(str(mng.parent))
    component.dependencies = (release,)
    p = plan_of(g)
    assert release in p.waits[mng.urn]
    assert any(k.startswith("inherited from nodes-general") for k in p.waits[mng.urn][release])
    assert all(c.ok for c in p.checks)


def test_waiting_for_a_component_means_waiting_for_everything_in_it() -> None:
    g = altered()
    release = g.get(release_of(plan_of(g)))
    network = only([r.urn for r in g if r.type == "cilium-eks:components:Network"])
    release.dependencies = (*release.dependencies, network)
    p = plan_of(g)
    network_steps = {u for u in p.steps if g.get(u).parent == network}
    assert network_steps and network_steps <= set(p.waits[release.urn])


def test_waiting_for_a_resource_pulumi_eks_created_means_waiting_for_its_component() -> None:
    g = altered()
    base = plan_of(g)
    demo_ns = base.step_of_name("demo-ns")
    eks_cluster = only([r.urn for r in g if r.type == EKS_CLUSTER])
    record = g.get(demo_ns.urn)
    record.provider = None
    record.dependencies = (eks_cluster,)
    p = plan_of(g)
    assert set(p.waits[demo_ns.urn]) == {only(eks_cluster_steps(p))}


def test_a_dependency_cycle_is_an_error() -> None:
    g = altered()
    base = plan_of(g)
    vpc = base.step_of_name("network-vpc")
    release = release_of(base)
    g.get(vpc.urn).dependencies = (release,)
    with pytest.raises(plan.PlanError, match="cycle"):
        plan_of(g)


# --------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------


def test_text_report_shows_tree_waves_path_values_and_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    for heading in ("Component tree", "Creation order:", "Critical path:", "Why this order", "Cilium Helm values",
                    "Stack outputs"):
        assert heading in out
    g = committed_graph("dev")
    assert out.count("(created by pulumi-eks)") == sum(1 for r in g if r.synthetic)
    assert "cluster-eks-eksCluster" in out and "aws:eks/cluster:Cluster  (created by pulumi-eks)" in out
    assert "slow: EKS control plane ~10 min" in out
    assert re.search(r"^  kubeconfig  \[secret\]$", out, re.M)
    assert re.search(r"^  cluster_name$", out, re.M)
    assert "WARNING" not in out
    # Values: the real ones, outputs of other resources as placeholders, never mock ids.
    assert "routingMode: native" in out and "mode: eni" in out
    assert f"iamRole: {OUTPUT_VALUES['eni.iamRole']}" in out
    assert mockengine.ACCOUNT_ID not in out


def test_text_report_waves_put_nodes_after_cilium(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    waves = re.split(r"^Wave (\d+)$", out.split("Critical path")[0], flags=re.M)
    wave_of = {}
    for number, body in zip(waves[1::2], waves[2::2], strict=True):
        for line in body.splitlines():
            m = re.match(r"^  (\S+)", line)
            if m:
                wave_of[m.group(1)] = int(number)
    assert wave_of["nodes-system-mng"] > wave_of["cilium-release"] > wave_of["cluster-eks"]
    assert wave_of["nodes-general-mng"] > wave_of["cilium-release"] > wave_of["aws-node-aws-node-patch"]
    assert wave_of["hubble-ui-internal"] > wave_of["nodes-general-mng"]


def test_kube_proxy_replacement_shows_the_api_host_and_the_kube_proxy_patch(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "dev", "--set", "ciliumKubeProxyReplacement=true"]) == 0
    out = capsys.readouterr().out
    assert f"k8sServiceHost: {OUTPUT_VALUES['k8sServiceHost']}" in out
    assert "kubeProxyReplacement: true" in out
    assert "cilium-release waits for aws-node-kube-proxy-patch" in out
    assert "kube-proxy add-on" not in out  # pulumi-eks is told not to manage kube-proxy


def test_bad_config_exits_2_naming_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = plan_main(["--stack", "dev", "--set", "vpcCidr=10.0.0.1/16", "--set", "nodeGroups={}",
                      "--set", "ciliumVersion=1.14.0"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for key in ("cilium-eks:vpcCidr", "cilium-eks:nodeGroups", "cilium-eks:ciliumVersion"):
        assert key in captured.err
    assert "3 configuration problem(s); nothing was created" in captured.err
    assert "Fix:" in captured.err


def test_unknown_stack_exits_2_listing_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "staging"]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.staging.yaml" in err and "dev" in err and "prod" in err


@pytest.mark.parametrize("argv", [["--format", "png"], ["--set", "novalue"], ["--image", "gif"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "dev", *argv]) == 2
    assert capsys.readouterr().err


def test_mermaid_file_has_every_node_group_after_the_release(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "prod.mmd"
    assert plan_main(["--stack", "prod", "--format", "mermaid", "--output", str(target)]) == 0
    assert str(target) in capsys.readouterr().err
    text = target.read_text()
    assert text.startswith("flowchart LR\n")
    for group in ("system", "general"):
        assert f"n_cilium_release -. depends_on .-> n_nodes_{group}_mng" in text
    assert "n_aws_node_aws_node_patch -. depends_on .-> n_cilium_release" in text
    assert "n_cluster_eks --> n_cilium_operator" in text
    declared = set(re.findall(r"^\s+(n_\w+)\[", text, re.M))
    used = set(re.findall(r"(n_\w+) (?:-->|-\. depends_on \.->) (n_\w+)", text))
    assert {n for edge in used for n in edge} <= declared
    assert len(declared) == len(plan_of(committed_graph("prod")).steps)


def test_json_is_parseable_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "dev", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = {s["label"]: s for s in doc["steps"]}
    assert names["nodes-general-mng"]["wave"] > names["cilium-release"]["wave"] > names["cluster-eks"]["wave"]
    assert any("depends_on" in w["why"] and w["name"].endswith("cilium-release")
               for w in names["nodes-general-mng"]["waits_for"])
    assert {r["name"] for r in doc["resources"] if r["synthetic"]} == {
        r.name for r in committed_graph("dev") if r.synthetic}
    assert {o["name"]: o["secret"] for o in doc["outputs"]}["kubeconfig"] is True
    assert doc["cilium_values"]["ipam"]["mode"] == "eni"
    assert doc["critical_path"]["estimated_seconds"] > 0
    assert all(c["ok"] for c in doc["checks"])


def test_image_without_graphviz_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    assert plan_main(["--stack", "dev", "--image", "png", "--output", str(tmp_path / "g.png")]) == 1
    err = capsys.readouterr().err
    assert "Graphviz" in err and "apt-get install graphviz" in err and "brew install graphviz" in err
    assert not (tmp_path / "g.png").exists()


def test_image_is_drawn_by_dot_from_the_same_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # A stand-in `dot` that records what it was given, so the test does not need Graphviz.
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n# args: -Tsvg -o FILE\nout="$3"\n/bin/cat > "$out"\necho "$1" >> "$out"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    target = tmp_path / "dev.svg"
    assert plan_main(["--stack", "dev", "--format", "mermaid", "--output", str(tmp_path / "dev.mmd"),
                      "--image", "svg"]) == 0
    capsys.readouterr()
    drawn = target.read_text()
    assert drawn.startswith('digraph "plan-dev"')
    assert '"cilium-release" -> "nodes-general-mng" [style=dashed, label="depends_on"];' in drawn
    assert drawn.rstrip().endswith("-Tsvg")


def test_a_release_of_crds_only_is_estimated_by_its_crds_not_by_its_timeout() -> None:
    """Helm's wait on a CRD-only chart ends when the CRDs are Established, not at the timeout: prod's
    critical path must not carry five minutes for the Prometheus Operator CRDs; a release with pods does."""
    from tooling.plan.model import CRD_RELEASE_SECONDS

    p = plan_of(committed_graph("prod"))
    by_chart = {str(p.graph.get(u).inputs.get("chart")).rsplit("/", 1)[-1]: p.steps[u]
                for u in steps_with(p, HELM_RELEASE)}
    assert by_chart["prometheus-operator-crds"].seconds == CRD_RELEASE_SECONDS
    assert by_chart["karpenter-crd"].seconds == CRD_RELEASE_SECONDS
    monitoring = by_chart["kube-prometheus-stack"]
    assert monitoring.seconds == int(p.graph.get(monitoring.urn).inputs["timeout"]) > CRD_RELEASE_SECONDS
