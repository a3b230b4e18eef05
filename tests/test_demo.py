"""The star-wars demo in the mocked graph: objects, policy per stage, ordering, upstream facts."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cilium_eks import demo
from cilium_eks.config import ConfigError
from tests.conftest import committed_graph, graph_with
from tooling.mockengine import Graph, RecordedResource

COMPONENT = "cilium-eks:components:StarWarsDemo"
CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
MNG = "eks:index:ManagedNodeGroup"
WORKLOAD_TYPES = {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:core/v1:Pod"}


@functools.cache
def dev_graph(stage: str) -> Graph:
    """dev (demo on) at a policy stage; dev's committed stage is evaluated once per session."""
    if stage == "l7":
        graph = committed_graph("dev")
        assert graph.named("cilium-eks-dev-demo").registered_outputs["policy_stage"] == "l7"
        return graph
    return graph_with("dev", demoPolicy=stage)


def demo_resources(graph: Graph) -> list[RecordedResource]:
    return graph.descendants(graph.one(COMPONENT).urn)


def of_kind(graph: Graph, type_: str) -> list[RecordedResource]:
    return [r for r in demo_resources(graph) if r.type == type_]


def by_name(graph: Graph, type_: str, name: str) -> RecordedResource:
    [found] = [r for r in of_kind(graph, type_) if r.inputs["metadata"]["name"] == name]
    return found


def upstream_docs(reference: Path, file: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((reference / "examples" / file).read_text()) if d]


def cnp_schema(reference: Path) -> dict[str, Any]:
    """The CRD's openAPIV3Schema. Tests use ``Draft7Validator(schema).validate`` rather than
    ``jsonschema.validate``: the latter first checks the schema itself, and some of the CRD's
    patterns are RE2 (``\\PC``) that Python's ``re`` cannot compile; the validator compiles
    only the patterns an instance reaches."""
    crd = yaml.safe_load((reference / "crds" / "ciliumnetworkpolicies.yaml").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v2"]
    return version["schema"]["openAPIV3Schema"]


def manifest(r: RecordedResource) -> dict[str, Any]:
    return {k: r.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}


# --- policy per stage -----------------------------------------------------------------------


def test_stage_none_declares_no_policy():
    graph = dev_graph("none")
    assert of_kind(graph, CNP) == []
    assert graph.of_type(CNP) == []
    # the workloads are still there: `none` is the recipe's "before any policy" step
    assert len(of_kind(graph, "kubernetes:core/v1:Pod")) == 2


def test_stage_l3l4_allows_only_empire_on_tcp_80_without_http_rules():
    [cnp] = of_kind(dev_graph("l3l4"), CNP)
    spec = cnp.inputs["spec"]
    assert spec["endpointSelector"] == {"matchLabels": {"org": "empire", "class": "deathstar"}}
    [rule] = spec["ingress"]
    assert rule["fromEndpoints"] == [{"matchLabels": {"org": "empire"}}]
    [to_port] = rule["toPorts"]
    assert to_port["ports"] == [{"port": "80", "protocol": "TCP"}]
    assert "rules" not in to_port


def test_stage_l7_allows_only_post_request_landing():
    [cnp] = of_kind(dev_graph("l7"), CNP)
    [rule] = cnp.inputs["spec"]["ingress"]
    assert rule["fromEndpoints"] == [{"matchLabels": {"org": "empire"}}]
    [to_port] = rule["toPorts"]
    assert to_port["ports"] == [{"port": "80", "protocol": "TCP"}]
    assert to_port["rules"] == {"http": [{"method": "POST", "path": "/v1/request-landing"}]}


@pytest.mark.parametrize(("stage", "file"), [("l3l4", "sw_l3_l4_policy.yaml"), ("l7", "sw_l3_l4_l7_policy.yaml")])
def test_policy_spec_is_the_upstream_one(reference: Path, stage: str, file: str):
    [upstream] = upstream_docs(reference, file)
    [cnp] = of_kind(dev_graph(stage), CNP)
    assert cnp.inputs["apiVersion"] == upstream["apiVersion"]
    assert cnp.inputs["kind"] == upstream["kind"]
    # description included: in current Cilium it sits under spec, as upstream has it
    assert cnp.inputs["spec"] == upstream["spec"]
    assert demo.stage_of_policy(upstream["spec"]) == stage


def test_the_policy_keeps_its_name_across_stages_so_a_stage_change_is_an_update():
    l3l4, l7 = of_kind(dev_graph("l3l4"), CNP)[0], of_kind(dev_graph("l7"), CNP)[0]
    assert l3l4.name == l7.name
    assert l3l4.inputs["metadata"]["name"] == l7.inputs["metadata"]["name"] == demo.POLICY_NAME


@pytest.mark.parametrize("stage", ["l3l4", "l7"])
def test_policy_is_valid_against_the_crd_schema(reference: Path, stage: str):
    schema = cnp_schema(reference)
    [cnp] = of_kind(dev_graph(stage), CNP)
    obj = manifest(cnp)
    jsonschema.Draft7Validator(schema).validate(obj)
    # the CRD's CEL rule, which jsonschema does not evaluate
    assert "spec" in obj or "specs" in obj


def test_the_schema_check_can_fail(reference: Path):
    schema = cnp_schema(reference)
    [cnp] = of_kind(dev_graph("l7"), CNP)
    bad = copy.deepcopy(manifest(cnp))
    bad["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["port"] = 80  # the CRD wants a string
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(bad)
    bad = copy.deepcopy(manifest(cnp))
    bad["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["protocol"] = "HTTP"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(bad)


def test_stage_recognition_refuses_a_policy_edited_by_hand():
    spec = demo.policy_spec("l7")
    assert spec is not None
    spec["ingress"][0]["toPorts"][0]["rules"]["http"].append({"method": "PUT", "path": "/v1/exhaust-port"})
    assert demo.stage_of_policy(spec) is None
    assert demo.stage_of_policy(None) == "none"
    with pytest.raises(ValueError, match="l5"):
        demo.policy_spec("l5")


def test_an_unknown_stage_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="demoPolicy"):
        graph_with("dev", demoPolicy="l5")


def test_policy_does_not_block_on_readiness_it_cannot_have():
    [cnp] = of_kind(dev_graph("l7"), CNP)
    assert cnp.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


# --- ordering -------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["none", "l3l4", "l7"])
def test_workloads_and_policy_wait_for_the_release_and_every_node_group(stage: str):
    graph = dev_graph(stage)
    [release] = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == "cilium"]
    node_groups = graph.of_type(MNG)
    assert node_groups
    waiting = [r for r in demo_resources(graph) if r.type in WORKLOAD_TYPES | {CNP}]
    # deathstar Deployment and Service, two spaceship pods, and the policy unless `none`
    assert len(waiting) == (4 if stage == "none" else 5)
    for r in waiting:
        assert release.urn in r.explicit_dependencies, r.name
        assert all(ng.urn in r.explicit_dependencies for ng in node_groups), r.name
        assert graph.waits_for(r.urn, release.urn)


# --- objects --------------------------------------------------------------------------------


def test_namespace_is_derived_from_the_stack_and_exported():
    graph = dev_graph("l7")
    [ns] = of_kind(graph, "kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["name"] == f"{graph.project}-{graph.stack}-demo"
    assert graph.outputs["demo_namespace"] == ns.inputs["metadata"]["name"]
    # every demo pod meets `restricted` (tests/test_demo_hardening.py), so the namespace enforces it
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_two_stacks_get_two_namespaces():
    a = by_name(dev_graph("l7"), "kubernetes:core/v1:Namespace", "cilium-eks-dev-demo")
    b = graph_with("prod", demoEnabled=True)
    [ns_b] = of_kind(b, "kubernetes:core/v1:Namespace")
    assert ns_b.inputs["metadata"]["name"] == "cilium-eks-prod-demo" != a.inputs["metadata"]["name"]
    # prod can opt in, and then gets the default stage l7
    assert len(of_kind(b, CNP)) == 1


def test_deathstar_has_two_replicas_behind_a_service_on_port_80():
    graph = dev_graph("l7")
    deployment = by_name(graph, "kubernetes:apps/v1:Deployment", "deathstar")
    assert deployment.inputs["spec"]["replicas"] == 2
    service = by_name(graph, "kubernetes:core/v1:Service", "deathstar")
    assert service.inputs["spec"]["ports"] == [{"port": 80}]
    assert service.inputs["spec"]["selector"] == deployment.inputs["spec"]["selector"]["matchLabels"]
    assert service.inputs["spec"]["selector"].items() <= (
        deployment.inputs["spec"]["template"]["metadata"]["labels"].items())


def test_spaceships_carry_their_org_and_class():
    graph = dev_graph("l7")
    tiefighter = by_name(graph, "kubernetes:core/v1:Pod", "tiefighter").inputs["metadata"]["labels"]
    xwing = by_name(graph, "kubernetes:core/v1:Pod", "xwing").inputs["metadata"]["labels"]
    assert (tiefighter["org"], tiefighter["class"]) == ("empire", "tiefighter")
    assert (xwing["org"], xwing["class"]) == ("alliance", "xwing")


def _essentials(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What the demo's behaviour depends on: names, labels, selectors, ports, replicas, images."""
    spec = obj["spec"]
    out: dict[str, Any] = {"labels": obj["metadata"].get("labels")}
    if kind == "Service":
        out |= {"type": spec.get("type"), "ports": spec["ports"], "selector": spec["selector"]}
    elif kind == "Deployment":
        pod = spec["template"]
        out |= {"replicas": spec["replicas"], "selector": spec["selector"],
                "template_labels": pod["metadata"]["labels"],
                "containers": [(c["name"], c["image"]) for c in pod["spec"]["containers"]]}
    elif kind == "Pod":
        out |= {"containers": [(c["name"], c["image"]) for c in spec["containers"]]}
    return out


def test_objects_match_the_upstream_demo(reference: Path):
    graph = dev_graph("l7")
    upstream = upstream_docs(reference, "http-sw-app.yaml")
    types = {"Service": "kubernetes:core/v1:Service", "Deployment": "kubernetes:apps/v1:Deployment",
             "Pod": "kubernetes:core/v1:Pod"}
    assert sorted((d["kind"], d["metadata"]["name"]) for d in upstream) == sorted(
        (r.inputs["kind"], r.inputs["metadata"]["name"]) for r in demo_resources(graph) if r.type in WORKLOAD_TYPES)
    for doc in upstream:
        ours = by_name(graph, types[doc["kind"]], doc["metadata"]["name"])
        assert _essentials(doc["kind"], ours.inputs) == _essentials(doc["kind"], doc), doc["metadata"]["name"]
    assert {d["metadata"]["name"]: d for d in upstream}["tiefighter"]["spec"]["containers"][0]["image"] == (
        demo.SPACESHIP_IMAGE)


def test_every_demo_object_uses_the_cluster_provider():
    graph = dev_graph("l7")
    provider = graph.named("cilium-eks-dev-cluster-k8s")
    for r in demo_resources(graph):
        assert r.parent == graph.one(COMPONENT).urn
        assert r.provider is not None and r.provider.startswith(provider.urn + "::"), r.name


# --- stacks ---------------------------------------------------------------------------------


def test_demo_is_absent_from_prod():
    prod = committed_graph("prod")
    assert prod.of_type(COMPONENT) == []
    assert prod.of_type(CNP) == []
    assert not any(r.type == "kubernetes:core/v1:Pod" for r in prod)
    assert "demo_namespace" not in prod.outputs


def test_demo_is_on_in_dev_with_the_l7_policy():
    dev = committed_graph("dev")
    assert len(dev.of_type(COMPONENT)) == 1
    assert len(of_kind(dev, CNP)) == 1
    assert dev.outputs["demo_namespace"] == "cilium-eks-dev-demo"
