"""Contract 3: every Cilium policy the program declares is one the CRD's schema accepts.

Validated against `spec.versions[].schema.openAPIV3Schema` of the CRDs in `<reference dir>/cilium/crds/`
(`CILIUM_EKS_REFERENCE_DIR` or the `make reference` cache), with the API server's structural-schema
meaning (see `tooling.contracts.crds.crd_schema_to_jsonschema`), and their metadata against the ObjectMeta
of the cluster's Kubernetes version. The upstream example policies prove the validator
accepts real policies; the negative controls prove it refuses broken ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cilium_eks.eks import DEFAULT_KUBERNETES_VERSION
from tests.conftest import committed_graph
from tests.test_contract_kubernetes import cluster_kubernetes_version
from tooling.contracts import (
    ContractError,
    CustomResourceDefinition,
    crd_schema_to_jsonschema,
    custom_resource_problems,
    kubernetes_type,
    load_crds,
)
from tooling.mockengine import Graph, RecordedResource

POLICY_KINDS = ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
EXAMPLES = ("sw_l3_l4_policy.yaml", "sw_l3_l4_l7_policy.yaml")

Crds = Mapping[tuple[str, str], CustomResourceDefinition]


@pytest.fixture
def crds(reference: Path) -> Crds:
    return load_crds(reference / "crds")


def declared_custom_resources(graph: Graph, crds: Crds) -> list[RecordedResource]:
    out = []
    for r in graph:
        t = kubernetes_type(r.type)
        if t is not None and r.custom and not r.synthetic and (t.api_version, t.kind) in crds:
            out.append(r)
    return out


def example(reference: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((reference / "examples" / name).read_text())


def test_the_reference_crds_define_both_policy_kinds(crds: Crds):
    assert {("cilium.io/v2", kind) for kind in POLICY_KINDS} <= set(crds)


# --- every committed stack ----------------------------------------------------------------------


def test_declared_cilium_policies_validate_against_their_crd(graph: Graph, crds: Crds):
    version = cluster_kubernetes_version(graph)
    problems = {r.name: custom_resource_problems(r.inputs, crds, version)
                for r in declared_custom_resources(graph, crds)}
    assert {name: p for name, p in problems.items() if p} == {}


def test_the_dev_stack_declares_a_cilium_network_policy(crds: Crds):
    # dev runs the star-wars demo with its L7 policy (demoEnabled true, demoPolicy l7), so
    # the test above must have seen at least one CiliumNetworkPolicy there.
    policies = [r for r in declared_custom_resources(committed_graph("dev"), crds)
                if r.type == "kubernetes:cilium.io/v2:CiliumNetworkPolicy"]
    assert policies, "dev declares no CiliumNetworkPolicy: the CRD contract checked nothing"


# --- the validator accepts real policies ---------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_upstream_example_policies_validate(reference: Path, crds: Crds, name: str):
    policy = example(reference, name)
    assert policy["kind"] == "CiliumNetworkPolicy"
    assert custom_resource_problems(policy, crds, DEFAULT_KUBERNETES_VERSION) == []


# --- negative controls: the check bites -------------------------------------------------------------


@pytest.fixture
def l7_policy(reference: Path) -> dict[str, Any]:
    return example(reference, "sw_l3_l4_l7_policy.yaml")


def first_port(policy: dict[str, Any]) -> dict[str, Any]:
    return policy["spec"]["ingress"][0]["toPorts"][0]["ports"][0]


def test_a_port_of_the_wrong_type_is_rejected(l7_policy: dict[str, Any], crds: Crds):
    first_port(l7_policy)["port"] = 80  # the CRD says string: "80"
    assert custom_resource_problems(l7_policy, crds) == [
        "`spec.ingress[0].toPorts[0].ports[0].port`: 80 is not of type 'string'"]


def test_a_malformed_port_or_a_bad_protocol_is_rejected(l7_policy: dict[str, Any], crds: Crds):
    # The CRD's port pattern is anchored per alternative, as the API server (Go regexp) reads
    # it; "-1" matches neither a number nor a port name.
    first_port(l7_policy)["port"] = "-1"
    first_port(l7_policy)["protocol"] = "HTTP"
    problems = custom_resource_problems(l7_policy, crds)
    assert len(problems) == 2
    assert all(p.startswith("`spec.ingress[0].toPorts[0].ports[0].") for p in problems)


def test_an_unknown_field_is_rejected_not_pruned(l7_policy: dict[str, Any], crds: Crds):
    rule = l7_policy["spec"]["ingress"][0]
    rule["fromEndpoint"] = rule.pop("fromEndpoints")  # would be pruned: the rule would allow everyone
    problems = custom_resource_problems(l7_policy, crds)
    assert len(problems) == 1 and "'fromEndpoint' was unexpected" in problems[0]


def test_a_policy_selecting_nothing_is_rejected(l7_policy: dict[str, Any], crds: Crds):
    del l7_policy["spec"]["endpointSelector"]  # oneOf endpointSelector / nodeSelector
    problems = custom_resource_problems(l7_policy, crds)
    assert len(problems) == 1 and problems[0].startswith("`spec`")


def test_a_policy_without_spec_is_rejected_by_the_translated_cel_rule(l7_policy: dict[str, Any], crds: Crds):
    del l7_policy["spec"]
    problems = custom_resource_problems(l7_policy, crds)
    assert len(problems) == 1 and problems[0].startswith("`(root)`")


def test_metadata_is_held_to_object_meta_of_the_cluster_version(l7_policy: dict[str, Any], crds: Crds):
    l7_policy["metadata"]["labels"] = {"stage": 7}
    assert custom_resource_problems(l7_policy, crds) == [], "the CRD alone says only `metadata: object`"
    problems = custom_resource_problems(l7_policy, crds, DEFAULT_KUBERNETES_VERSION)
    assert problems == ["`metadata.labels.stage`: 7 is not of type 'string', 'null'"]


def test_a_clusterwide_policy_cannot_have_a_namespace(l7_policy: dict[str, Any], crds: Crds):
    l7_policy["kind"] = "CiliumClusterwideNetworkPolicy"
    assert custom_resource_problems(l7_policy, crds) == []
    l7_policy["metadata"]["namespace"] = "default"
    assert custom_resource_problems(l7_policy, crds) == [
        "`metadata.namespace`: CiliumClusterwideNetworkPolicy is cluster-scoped; remove the namespace"]


def test_an_unknown_kind_is_reported(l7_policy: dict[str, Any], crds: Crds):
    l7_policy["apiVersion"] = "cilium.io/v1alpha1"
    problems = custom_resource_problems(l7_policy, crds)
    assert len(problems) == 1 and problems[0].startswith("no CRD defines cilium.io/v1alpha1 CiliumNetworkPolicy")


# --- the structural-schema translation -------------------------------------------------------------


def test_int_or_string_fields_accept_both_and_nothing_else(l7_policy: dict[str, Any], crds: Crds):
    policy = copy.deepcopy(l7_policy)
    policy["spec"]["ingress"][0]["icmps"] = [{"fields": [{"type": 8}, {"type": "EchoRequest"}]}]
    assert custom_resource_problems(policy, crds) == []
    policy["spec"]["ingress"][0]["icmps"] = [{"fields": [{"type": True}]}]
    assert custom_resource_problems(policy, crds) != []


def test_nullable_and_preserve_unknown_fields_follow_the_api_server():
    schema = crd_schema_to_jsonschema({
        "type": "object",
        "properties": {
            "a": {"type": "string", "nullable": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"x": {}}},
        },
    })
    assert schema["properties"]["a"]["type"] == ["string", "null"]
    assert "additionalProperties" not in schema["properties"]["free"]
    assert schema["additionalProperties"] is False


def test_an_untranslated_cel_rule_stops_the_check():
    with pytest.raises(ContractError, match="has no JSON Schema translation"):
        crd_schema_to_jsonschema({"type": "object", "x-kubernetes-validations": [{"rule": "self.a > 1"}]})


def test_a_directory_without_crds_is_an_error(tmp_path: Path):
    with pytest.raises(ContractError, match="no CustomResourceDefinition"):
        load_crds(tmp_path)
