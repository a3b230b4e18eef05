"""PrometheusCrds alone: one pinned release of the prometheus-operator-crds chart (CRDs Helm upgrades),
needing nothing but the API server."""

from __future__ import annotations

from components import PrometheusCrds, PrometheusCrdsArgs
from tests.components.harness import build, child, children, component, k8s_provider, uses_provider

TOKEN = "cilium-eks:components:PrometheusCrds"
RELEASE = "kubernetes:helm.sh/v3:Release"


def test_one_pinned_crds_release_on_the_clusters_provider():
    def program() -> None:
        PrometheusCrds("crds", PrometheusCrdsArgs(k8s_provider=k8s_provider()))

    graph = build(program)
    comp = component(graph, TOKEN, stand_ins={"k"}, outputs={"release_name", "version"})
    assert [r.type for r in children(graph, comp)] == [RELEASE]
    release = child(graph, comp, RELEASE)
    assert release.inputs["chart"] == "prometheus-operator-crds" and release.inputs["version"] == "31.0.1"
    assert release.inputs["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert release.inputs["namespace"] == "kube-system"
    assert uses_provider(release, graph.named("k").urn)
    # Nothing but the provider: it can go in before any node exists.
    assert release.explicit_dependencies == frozenset()
    assert comp.registered_outputs["version"] == "31.0.1"


def test_the_version_can_be_chosen():
    def program() -> None:
        PrometheusCrds("crds", PrometheusCrdsArgs(k8s_provider=k8s_provider(), version="31.0.0"))

    graph = build(program)
    assert child(graph, graph.one(TOKEN), RELEASE).inputs["version"] == "31.0.0"
