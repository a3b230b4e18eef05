"""Contract 2: every Kubernetes object the program declares is one the cluster's API server accepts.

The objects are taken from the graph generically (any recorded `kubernetes:<group>/<version>:<Kind>`
the program declares, except Helm releases and providers), so new components are covered
without touching this file. They are validated offline against the strict OpenAPI schema
of the cluster's Kubernetes version (the pulumi-eks Cluster's `version` input, i.e. config
`kubernetesVersion`), as shipped by kubernetes-validate.

`...Patch` types are server-side-apply patches, partial by design: they are held to the
partial schema of the full type (see `tooling.contracts.kubernetes.partial_schema`), never skipped.
Custom resources (Cilium policies) are contract 3 (test_contract_cilium_crds.py); the test
below makes sure every declared object is covered by one or the other.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cilium_eks.eks import DEFAULT_KUBERNETES_VERSION
from cilium_eks.karpenter import NODECLASS_TYPE as KARPENTER_NODECLASS
from cilium_eks.karpenter import NODEPOOL_TYPE as KARPENTER_NODEPOOL
from cilium_eks.karpenter import VERSION as KARPENTER_VERSION
from cilium_eks.monitoring import VERSION as KUBE_PROMETHEUS_VERSION
from tests.conftest import committed_graph, reference_path
from tooling.contracts import (
    ContractError,
    KubernetesType,
    declared_kubernetes_object_problems,
    is_builtin_kind,
    kubernetes_object_problems,
    kubernetes_type,
    load_crds,
    supported_kubernetes_versions,
)
from tooling.mockengine import Graph, RecordedResource

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def cluster_kubernetes_version(graph: Graph) -> str:
    clusters = graph.of_type("eks:index:Cluster", synthetic=False)
    assert len(clusters) == 1, "one EKS cluster per stack"
    return str(clusters[0].inputs.get("version") or DEFAULT_KUBERNETES_VERSION)


def declared_objects(graph: Graph) -> list[tuple[RecordedResource, KubernetesType]]:
    """Kubernetes API objects the program itself declares (not those a remote component's
    provider creates on its own)."""
    out = []
    for r in graph:
        t = kubernetes_type(r.type)
        if t is not None and r.custom and not r.synthetic:
            out.append((r, t))
    return out


def builtin_objects(graph: Graph) -> list[tuple[RecordedResource, KubernetesType]]:
    version = cluster_kubernetes_version(graph)
    return [(r, t) for r, t in declared_objects(graph) if is_builtin_kind(t, version)]


def problems_by_object(objects: list[tuple[RecordedResource, KubernetesType]], version: str) -> dict[str, list[str]]:
    found = {f"{r.type} {r.name}": kubernetes_object_problems(r.inputs, t, version) for r, t in objects}
    return {k: v for k, v in found.items() if v}


# --- every committed stack ---------------------------------------------------------------------


def test_the_cluster_version_has_a_schema(graph: Graph):
    assert cluster_kubernetes_version(graph) in supported_kubernetes_versions()


def test_every_declared_object_has_a_contract_and_meets_it(graph: Graph, reference: Path):
    # The single entry point the plan and the policy pack use: built-in kinds, patches and
    # custom resources alike; a kind without any schema is a problem, not a pass.
    version = cluster_kubernetes_version(graph)
    crds = dict(load_crds(reference / "crds"))
    if graph.of_type(KARPENTER_NODEPOOL) or graph.of_type(KARPENTER_NODECLASS):
        crds.update(load_crds(reference_path(f"karpenter/{KARPENTER_VERSION}/crds")))
    if graph.of_type(PROMETHEUS_RULE):
        crds.update(load_crds(reference_path(f"kube-prometheus-stack/{KUBE_PROMETHEUS_VERSION}/crds")))
    problems = {f"{r.type} {r.name}": declared_kubernetes_object_problems(r.type, r.inputs, version, crds)
                for r, _ in declared_objects(graph)}
    assert {k: v for k, v in problems.items() if v} == {}


def test_a_kind_without_any_schema_is_reported(reference: Path):
    crds = load_crds(reference / "crds")
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert declared_kubernetes_object_problems("kubernetes:example.com/v1:Widget", obj, "1.34", crds) == [
        "no schema for example.com/v1 Widget: neither built into Kubernetes 1.34 nor a known CRD"]
    assert declared_kubernetes_object_problems("kubernetes:helm.sh/v3:Release", {}, "1.34", crds) is None


def test_full_objects_validate_against_the_cluster_version(graph: Graph):
    version = cluster_kubernetes_version(graph)
    objects = [(r, t) for r, t in builtin_objects(graph) if not t.patch]
    assert problems_by_object(objects, version) == {}


def test_patches_validate_as_partial_objects(graph: Graph):
    version = cluster_kubernetes_version(graph)
    patches = [(r, t) for r, t in builtin_objects(graph) if t.patch]
    assert patches, "awsNodeMode patch declares a DaemonSetPatch for aws-node"
    assert problems_by_object(patches, version) == {}


def test_prod_declares_the_internal_hubble_service_and_it_is_checked():
    # The generic tests above only prove something if they see the objects: hold the
    # known ones to being found.
    kinds = {(t.kind, t.patch) for _, t in builtin_objects(committed_graph("prod"))}
    assert {("Service", False), ("DaemonSet", True)} <= kinds


# --- the patch contract ----------------------------------------------------------------------------


@pytest.fixture
def aws_node_patch() -> tuple[dict[str, Any], KubernetesType]:
    patches = [(r, t) for r, t in builtin_objects(committed_graph("dev")) if t.patch and t.kind == "DaemonSet"]
    assert len(patches) == 1
    r, t = patches[0]
    return copy.deepcopy(r.inputs), t


def test_a_patch_is_not_a_full_object(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    # Why patches need their own contract: as a full DaemonSet the aws-node patch lacks the
    # required selector and containers, which the server keeps from the existing object.
    obj, t = aws_node_patch
    full = KubernetesType(t.group, t.version, t.kind, patch=False)
    problems = kubernetes_object_problems(obj, full, DEFAULT_KUBERNETES_VERSION)
    assert "`spec`: 'selector' is a required property" in problems
    assert kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION) == []


def test_a_wrong_field_in_a_patch_is_rejected(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    obj, t = aws_node_patch
    pod = obj["spec"]["template"]["spec"]
    pod["node_selector"] = pod.pop("nodeSelector")  # the SDK's snake_case name, sent raw
    problems = kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION)
    assert len(problems) == 1
    assert problems[0].startswith("`spec.template.spec`: Additional properties are not allowed ('node_selector'")


def test_a_wrong_type_in_a_patch_is_rejected(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    obj, t = aws_node_patch
    obj["spec"]["template"]["spec"]["nodeSelector"] = ["io.cilium/aws-node-enabled=true"]
    problems = kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION)
    assert problems and all(p.startswith("`spec.template.spec.nodeSelector`") for p in problems)


def test_a_patch_must_name_its_target(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    obj, t = aws_node_patch
    del obj["metadata"]["name"]
    assert kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION) == [
        "`metadata.name`: a patch must name the existing object it patches"]


def test_a_patched_list_element_must_carry_its_merge_key(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    # Server-side apply merges `containers` by name: an element without it cannot be merged.
    obj, t = aws_node_patch
    obj["spec"]["template"]["spec"]["containers"] = [{"image": "example/cni:1"}]
    problems = kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION)
    assert problems == ["`spec.template.spec.containers[0]`: 'name' is a required property"]
    obj["spec"]["template"]["spec"]["containers"] = [{"name": "aws-node", "image": "example/cni:1"}]
    assert kubernetes_object_problems(obj, t, DEFAULT_KUBERNETES_VERSION) == []


# --- full objects: negative controls ------------------------------------------------------------


SERVICE = KubernetesType(group="", version="v1", kind="Service", patch=False)


def hubble_service() -> dict[str, Any]:
    services = [r for r, t in builtin_objects(committed_graph("prod")) if t == SERVICE and "hubble" in r.name]
    assert len(services) == 1
    return copy.deepcopy(services[0].inputs)


def test_an_unknown_field_in_an_object_is_rejected():
    svc = hubble_service()
    svc["spec"]["loadBalancerSourceRange"] = svc["spec"].pop("loadBalancerSourceRanges")
    problems = kubernetes_object_problems(svc, SERVICE, DEFAULT_KUBERNETES_VERSION)
    assert len(problems) == 1 and "'loadBalancerSourceRange' was unexpected" in problems[0]


def test_a_missing_required_field_in_an_object_is_rejected():
    svc = hubble_service()
    del svc["spec"]["ports"][0]["port"]
    assert kubernetes_object_problems(svc, SERVICE, DEFAULT_KUBERNETES_VERSION) == [
        "`spec.ports[0]`: 'port' is a required property"]


def test_an_object_whose_kind_does_not_match_its_type_is_rejected():
    svc = hubble_service()
    svc["kind"] = "Endpoints"
    assert kubernetes_object_problems(svc, SERVICE, DEFAULT_KUBERNETES_VERSION)[0].startswith("`kind`")


def test_the_schema_follows_the_kubernetes_version(aws_node_patch: tuple[dict[str, Any], KubernetesType]):
    # PodSpec.hostnameOverride arrived in Kubernetes 1.34: a 1.33 API server refuses it.
    obj, t = aws_node_patch
    obj["spec"]["template"]["spec"]["hostnameOverride"] = "node"
    assert kubernetes_object_problems(obj, t, "1.34") == []
    problems = kubernetes_object_problems(obj, t, "1.33")
    assert len(problems) == 1 and "'hostnameOverride' was unexpected" in problems[0]


def test_an_unsupported_kubernetes_version_is_an_error():
    with pytest.raises(ContractError, match=r"no schema for Kubernetes 1\.99"):
        kubernetes_object_problems(hubble_service(), SERVICE, "1.99")


# --- type tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "expected"), [
    ("kubernetes:apps/v1:DaemonSetPatch", KubernetesType("apps", "v1", "DaemonSet", patch=True)),
    ("kubernetes:core/v1:Service", KubernetesType("", "v1", "Service", patch=False)),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", KubernetesType("networking.k8s.io", "v1", "NetworkPolicy",
                                                                     patch=False)),
    ("kubernetes:cilium.io/v2:CiliumNetworkPolicy", KubernetesType("cilium.io", "v2", "CiliumNetworkPolicy",
                                                                   patch=False)),
    ("kubernetes:helm.sh/v3:Release", None),
    ("kubernetes:yaml/v2:ConfigGroup", None),
    ("pulumi:providers:kubernetes", None),
    ("cilium-eks:components:Hubble", None),
])
def test_type_tokens(token: str, expected: KubernetesType | None):
    assert kubernetes_type(token) == expected


def test_a_custom_group_is_not_mistaken_for_a_builtin_one():
    # kubernetes-validate's file names keep only the group's first label
    # (networking.k8s.io -> networking); another group with that label is not built in.
    assert is_builtin_kind(KubernetesType("networking.k8s.io", "v1", "NetworkPolicy", False), "1.34")
    assert not is_builtin_kind(KubernetesType("networking.example.com", "v1", "NetworkPolicy", False), "1.34")
