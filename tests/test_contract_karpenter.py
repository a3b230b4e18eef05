"""Contracts with Karpenter 1.14.1's published artifacts: the NodePools and EC2NodeClasses the program
declares validate against the pinned CRDs (with their CEL rules translated: tooling/contracts/karpenter_cel.py),
and the Helm releases' values use only keys of the chart's values.yaml (Helm ignores unknown keys silently).

Reference data: ``karpenter/<version>/`` (../shared in CI); every test here skips, saying why, without it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cilium_eks.cilium import CiliumOptions, chart_name
from cilium_eks.eks import DEFAULT_AMI_RELEASE, DEFAULT_KUBERNETES_VERSION
from cilium_eks.karpenter import (
    CHART_NAME,
    CRD_CHART_NAME,
    NODECLASS_TYPE,
    NODEPOOL_TYPE,
    VERSION,
    NodePoolSpec,
    controller_values,
    node_class_object,
    node_pool_object,
    pool_capacity,
)
from tests.conftest import committed_graph
from tooling.contracts import (
    ChartReference,
    CustomResourceDefinition,
    custom_resource_problems,
    load_crds,
    undefined_value_paths,
)
from tooling.contracts.karpenter_cel import KARPENTER_CEL_RULES
from tooling.mockengine import Graph, RecordedResource

Crds = Mapping[tuple[str, str], CustomResourceDefinition]
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def crds(karpenter_reference: Path) -> Crds:
    return load_crds(karpenter_reference / VERSION / "crds")


@pytest.fixture
def chart(karpenter_reference: Path) -> ChartReference:
    """The controller chart's values.yaml (it publishes no values.schema.json: the key check is the contract)."""
    text = (karpenter_reference / VERSION / "values.yaml").read_text()
    return ChartReference(version=VERSION, defaults=yaml.safe_load(text), values_yaml=text, schema={})


def objects(pool: NodePoolSpec, options: CiliumOptions | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    cap = pool_capacity(pool, (options or CiliumOptions()).pod_addressing)
    assert cap is not None
    return (node_pool_object(pool, [n.instance_type for n in cap.types]),
            node_class_object(pool, cluster_name="cilium-eks-prod", ami_release=DEFAULT_AMI_RELEASE,
                              instance_profile="cilium-eks-prod-karpenter-node", max_pods=cap.max_pods,
                              tags={"project": "cilium-eks"}))


def declared(graph: Graph, type_: str) -> list[RecordedResource]:
    return [r for r in graph.of_type(type_) if not r.synthetic]


def release(graph: Graph, name: str) -> RecordedResource:
    [found] = [r for r in graph.of_type(RELEASE) if chart_name(r.inputs.get("chart")) == name]
    return found


# --- the CRDs ----------------------------------------------------------------------------------------


def test_the_reference_crds_define_both_kinds_and_every_cel_rule_is_translated(crds: Crds):
    # load_crds refuses a CRD with a CEL rule it cannot translate: loading them is the check.
    assert {("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")} <= set(crds)
    assert len(KARPENTER_CEL_RULES) == 62


def test_prods_nodepools_and_nodeclasses_validate_against_the_crds(crds: Crds):
    graph = committed_graph("prod")
    found = declared(graph, NODEPOOL_TYPE) + declared(graph, NODECLASS_TYPE)
    assert len(found) == 2, "prod declares one NodePool and its EC2NodeClass"
    assert {r.name: custom_resource_problems(r.inputs, crds, DEFAULT_KUBERNETES_VERSION) for r in found} == {
        r.name: [] for r in found}


@pytest.mark.parametrize(("pool", "options"), [
    (NodePoolSpec(name="default"), CiliumOptions()),
    (NodePoolSpec(name="arm-spot", instance_categories=("m", "c"), instance_families=("m7g", "c7g"),
                  architectures=("arm64",), capacity_types=("spot", "on-demand"), consolidation_policy="Balanced",
                  consolidate_after="Never", expire_after="Never", min_vcpus=2, max_vcpus=64), CiliumOptions()),
    (NodePoolSpec(name="delegated", consolidation_policy="WhenEmpty", consolidate_after="30s"),
     CiliumOptions(prefix_delegation=True)),
], ids=["default", "arm-spot", "prefix-delegation"])
def test_every_pool_shape_the_config_allows_builds_valid_objects(crds: Crds, pool: NodePoolSpec,
                                                                 options: CiliumOptions):
    for obj in objects(pool, options):
        assert custom_resource_problems(obj, crds, DEFAULT_KUBERNETES_VERSION) == [], obj["kind"]


# --- negative controls: what the API server would refuse is refused here -------------------------------


def _pool_spec(o: dict[str, Any]) -> dict[str, Any]:
    return o["spec"]["template"]["spec"]


NODEPOOL_BREAKS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "taint-effect": (lambda o: _pool_spec(o)["startupTaints"][0].update(effect="NoExecutee"),
                     "startupTaints[0].effect"),
    "unknown-field": (lambda o: _pool_spec(o).update(kubelet={"maxPods": 10}), "Additional properties"),
    "restricted-label": (lambda o: _pool_spec(o)["requirements"].append(
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["x"]}), "requirements[8].key"),
    "gt-not-a-number": (lambda o: _pool_spec(o)["requirements"][1].update(values=["five"]), "requirements[1]"),
    "in-without-values": (lambda o: _pool_spec(o)["requirements"][0].update(values=[]), "requirements[0]"),
    "bad-duration": (lambda o: o["spec"]["disruption"].update(consolidateAfter="5 minutes"), "consolidateAfter"),
    "bad-policy": (lambda o: o["spec"]["disruption"].update(consolidationPolicy="WhenUnderutilized"),
                   "consolidationPolicy"),
    "no-node-class": (lambda o: _pool_spec(o).pop("nodeClassRef"), "nodeClassRef"),
}
NODECLASS_BREAKS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "role-and-profile": (lambda o: o["spec"].update(role="KarpenterNodeRole"), "is valid under each of"),
    "neither-role-nor-profile": (lambda o: o["spec"].pop("instanceProfile"), "is not valid under any"),
    "bad-alias": (lambda o: o["spec"].update(amiSelectorTerms=[{"alias": "al2023"}]), "amiSelectorTerms[0].alias"),
    "alias-with-a-second-term": (lambda o: o["spec"]["amiSelectorTerms"].append({"id": "ami-0123456789abcdef0"}),
                                 "amiSelectorTerms"),
    "negative-max-pods": (lambda o: o["spec"]["kubelet"].update(maxPods=-1), "kubelet.maxPods"),
    "hop-limit-zero": (lambda o: o["spec"]["metadataOptions"].update(httpPutResponseHopLimit=0),
                       "httpPutResponseHopLimit"),
    "restricted-tag": (lambda o: o["spec"]["tags"].update({"kubernetes.io/cluster/x": "owned"}), "spec.tags"),
    "empty-subnet-selector": (lambda o: o["spec"].update(subnetSelectorTerms=[]), "subnetSelectorTerms"),
    "negative-kube-reserved": (lambda o: o["spec"]["kubelet"]["kubeReserved"].update(memory="-1Mi"),
                               "kubeReserved"),
    # Stricter than the CEL rule (karpenter_cel.py): two interfaces are refused even when they do not collide.
    "two-interfaces": (lambda o: o["spec"].update(networkInterfaces=[
        {"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"},
        {"networkCardIndex": 0, "deviceIndex": 1, "interfaceType": "interface"}]), "networkInterfaces"),
}


@pytest.mark.parametrize("case", sorted(NODEPOOL_BREAKS))
def test_a_broken_nodepool_is_refused(crds: Crds, case: str):
    good, _ = objects(NodePoolSpec(name="default"))
    assert custom_resource_problems(good, crds) == []
    bad = copy.deepcopy(good)
    change, where = NODEPOOL_BREAKS[case]
    change(bad)
    problems = custom_resource_problems(bad, crds)
    assert problems and any(where in p for p in problems), problems


@pytest.mark.parametrize("case", sorted(NODECLASS_BREAKS))
def test_a_broken_nodeclass_is_refused(crds: Crds, case: str):
    _, good = objects(NodePoolSpec(name="default"))
    assert custom_resource_problems(good, crds) == []
    bad = copy.deepcopy(good)
    change, where = NODECLASS_BREAKS[case]
    change(bad)
    problems = custom_resource_problems(bad, crds)
    assert problems and any(where in p for p in problems), problems


def test_a_windows_alias_must_be_latest(crds: Crds):
    _, node_class = objects(NodePoolSpec(name="default"))
    node_class["spec"]["amiSelectorTerms"] = [{"alias": "windows2022@v20250101"}]
    assert any("alias" in p for p in custom_resource_problems(node_class, crds))
    node_class["spec"]["amiSelectorTerms"] = [{"alias": "windows2022@latest"}]
    assert custom_resource_problems(node_class, crds) == []


# --- the charts' values --------------------------------------------------------------------------------


def test_the_controller_release_sets_only_keys_of_the_charts_values_yaml(chart: ChartReference):
    values = release(committed_graph("prod"), CHART_NAME).inputs["values"]
    assert {"settings", "serviceAccount", "affinity", "controller", "replicas"} <= set(values)
    assert undefined_value_paths(values, chart) == []


def test_the_values_builder_sets_only_known_keys_too(chart: ChartReference):
    values = controller_values(cluster_name="c", region="eu-west-1", queue_name="q",
                               role_arn="arn:aws:iam::123456789012:role/r", replicas=1)
    assert undefined_value_paths(values, chart) == []


@pytest.mark.parametrize(("extra", "path"), [
    ({"webhook": {"enabled": True}}, "webhook"),  # removed in v1.1.0 (commit bbff05cc7)
    ({"settings": {"awsFeatureGates": {"nodeClassCEL": True}}}, "settings.awsFeatureGates"),  # main only
    ({"controller": {"resource": {}}}, "controller.resource"),  # a typo
])
def test_keys_the_pinned_chart_does_not_have_are_reported(chart: ChartReference, extra: dict[str, Any], path: str):
    values = controller_values(cluster_name="c", region="eu-west-1", queue_name="q", role_arn="r", replicas=1)
    for k, v in extra.items():
        values[k] = {**values.get(k, {}), **v}
    assert [p for p in undefined_value_paths(values, chart) if f"`{path}`" in p]


def test_the_crd_release_sets_no_value():
    # The karpenter-crd chart's values.yaml holds only additionalAnnotations (v1.14.1 charts/karpenter-crd).
    assert release(committed_graph("prod"), CRD_CHART_NAME).inputs.get("values") in (None, {})
