"""Contract 1: the values the program hands the Cilium release are values the pinned chart accepts.

The chart's values.schema.json checks types and enums but accepts unknown keys, so the key
paths are also held to the chart's values.yaml: a typo, or a key the chart removed
(`tunnel`), would otherwise be ignored by Helm without a word.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cilium_eks.cilium import CHART as CILIUM_CHART
from tests.conftest import committed_graph, graph_with
from tooling.contracts import (
    COMMENTED_VALUE_PATHS,
    PASS_THROUGH_VALUE_KEYS,
    ChartReference,
    ContractError,
    commented_value_paths,
    helm_values_problems,
    load_chart_reference,
    undefined_value_paths,
    values_schema_problems,
)
from tooling.mockengine import Graph, RecordedResource

RELEASE = "kubernetes:helm.sh/v3:Release"


def cilium_release(graph: Graph) -> RecordedResource:
    found = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == CILIUM_CHART]
    assert len(found) == 1, f"expected exactly one Cilium release, found {[r.name for r in found]}"
    return found[0]


def chart_of(graph: Graph, reference: Path) -> ChartReference:
    # The chart version is the release's own `version` input: what Helm would install.
    return load_chart_reference(reference, cilium_release(graph).inputs["version"])


def release_values(graph: Graph) -> dict[str, Any]:
    return copy.deepcopy(cilium_release(graph).inputs["values"])


# --- every committed stack -------------------------------------------------------------------


def test_release_values_validate_against_the_chart_schema(graph: Graph, reference: Path):
    chart = chart_of(graph, reference)
    assert values_schema_problems(release_values(graph), chart.schema) == []


def test_release_values_set_only_keys_the_chart_defines(graph: Graph, reference: Path):
    chart = chart_of(graph, reference)
    assert undefined_value_paths(release_values(graph), chart) == []


def test_release_values_are_fully_known_plain_data(graph: Graph, reference: Path):
    # helm_values_problems reports Outputs it cannot see through; the mock resolves every
    # Output, so any such report means the program passes something that is not data.
    assert helm_values_problems(release_values(graph), chart_of(graph, reference)) == []


def test_kube_proxy_replacement_values_are_accepted_too(reference: Path):
    # The committed stacks leave kube-proxy alone; the values this option adds
    # (k8sServiceHost, k8sServicePort) must be valid for the chart as well.
    graph = graph_with("dev", ciliumKubeProxyReplacement=True, ciliumPrefixDelegation=True)
    values = release_values(graph)
    assert values["kubeProxyReplacement"] is True and "k8sServiceHost" in values
    assert helm_values_problems(values, chart_of(graph, reference)) == []


def test_a_chart_version_without_reference_data_is_an_error_not_a_pass(reference: Path):
    with pytest.raises(ContractError, match=r"no reference data for Cilium chart 1\.99\.0"):
        load_chart_reference(reference, "1.99.0")


# --- negative controls: the check bites ---------------------------------------------------------


@pytest.fixture
def dev_values() -> dict[str, Any]:
    return release_values(committed_graph("dev"))


@pytest.fixture
def chart(reference: Path) -> ChartReference:
    return chart_of(committed_graph("dev"), reference)


def test_a_misspelt_value_key_is_rejected_with_a_suggestion(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["eni"]["subnetTagFilter"] = dev_values["eni"].pop("subnetTagsFilter")
    assert values_schema_problems(dev_values, chart.schema) == [], "the schema alone lets typos through"
    problems = helm_values_problems(dev_values, chart)
    assert len(problems) == 1
    assert "`eni.subnetTagFilter` is not defined" in problems[0]
    assert "did you mean `eni.subnetTagsFilter`" in problems[0]


def test_a_misspelt_nested_key_is_rejected(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["hubble"]["relay"]["enabeld"] = True
    assert ["`hubble.relay.enabeld`" in p for p in helm_values_problems(dev_values, chart)] == [True]


def test_tunnel_disabled_is_rejected(dev_values: dict[str, Any], chart: ChartReference):
    # The 2022 recipe's `--set tunnel=disabled`: removed in 1.15, refused by current charts.
    dev_values["tunnel"] = "disabled"
    problems = helm_values_problems(dev_values, chart)
    assert len(problems) == 1 and problems[0].startswith("`tunnel` is not defined")


def test_a_value_of_the_wrong_type_is_rejected_by_the_schema(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["eni"]["enabled"] = "true"
    dev_values["operator"]["replicas"] = "2"
    problems = helm_values_problems(dev_values, chart)
    assert problems == ["`eni.enabled`: 'true' is not of type 'boolean'",
                        "`operator.replicas`: '2' is not of type 'integer'"]


def test_a_value_unknown_at_plan_time_is_reported_not_passed(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["eni"]["iamRole"] = object()
    problems = helm_values_problems(dev_values, chart)
    assert len(problems) == 1 and problems[0].startswith("`eni.iamRole`") and "not plain JSON" in problems[0]


# --- what the key check descends into ------------------------------------------------------------


def test_lists_and_free_form_maps_are_not_descended(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["eni"]["subnetTagsFilter"] = ["any=tag", "another=one"]  # a list in values.yaml
    dev_values["operator"]["podAnnotations"] = {"example.com/anything": "x"}  # `{}` in values.yaml
    dev_values["operator"]["extraArgs"] = ["--any-flag"]  # `[]` in values.yaml
    dev_values["eni"]["eniTags"] = {"team": "platform"}  # `{}` in values.yaml
    assert helm_values_problems(dev_values, chart) == []


def test_pass_through_kubernetes_objects_accept_any_key_of_their_type(dev_values: dict[str, Any],
                                                                      chart: ChartReference):
    # values.yaml shows `nodeSelector: {kubernetes.io/os: linux}` as an example, not a closed set.
    assert chart.defaults["operator"]["nodeSelector"], "the chart defines this map with sub-keys"
    dev_values["operator"]["nodeSelector"] = {"workload": "system"}
    dev_values["operator"]["affinity"] = {"nodeAffinity": {}}
    assert helm_values_problems(dev_values, chart) == []
    dev_values["operator"]["nodeSelectr"] = {"workload": "system"}
    assert len(helm_values_problems(dev_values, chart)) == 1


def test_pass_through_keys_are_kubernetes_objects_the_chart_defines(chart: ChartReference):
    found: set[str] = set()

    def walk(tree: Any) -> None:
        if isinstance(tree, dict):
            found.update(k for k in tree if k in PASS_THROUGH_VALUE_KEYS)
            for v in tree.values():
                walk(v)

    walk(chart.defaults)
    assert found == PASS_THROUGH_VALUE_KEYS, "every pass-through key must exist in the pinned chart"


def test_maps_the_chart_defines_with_sub_keys_are_descended(dev_values: dict[str, Any], chart: ChartReference):
    dev_values["hubble"]["tls"]["auto"]["methd"] = "helm"
    assert len(helm_values_problems(dev_values, chart)) == 1


# --- keys documented only as comments -------------------------------------------------------------


def test_the_comment_allow_list_holds_only_keys_values_yaml_documents_in_comments(chart: ChartReference):
    assert sorted(COMMENTED_VALUE_PATHS - commented_value_paths(chart.values_yaml)) == []


def test_commented_keys_are_found_with_their_parents(chart: ChartReference):
    commented = commented_value_paths(chart.values_yaml)
    assert "egressMasqueradeInterfaces" in commented  # `# egressMasqueradeInterfaces: ""` at the top level
    assert "eni.nodeSpec.usePrimaryAddress" not in commented  # a real key, not a comment
    assert "tunnel" not in commented


def test_a_commented_key_is_accepted_only_when_allow_listed(chart: ChartReference):
    values = {"egressMasqueradeInterfaces": "eth0"}
    problems = undefined_value_paths(values, chart, allowed_commented=())
    assert len(problems) == 1 and "only mentions it in a comment" in problems[0]
    assert undefined_value_paths(values, chart, allowed_commented={"egressMasqueradeInterfaces"}) == []


def test_the_allow_list_cannot_admit_a_key_the_chart_does_not_document(chart: ChartReference):
    assert len(undefined_value_paths({"tunnel": "disabled"}, chart, allowed_commented={"tunnel"})) == 1
