"""Building one component alone under the mock engine, outside this project's program: a
stack of another project, no stack configuration but the region, and only the stand-ins
the component's args need."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pulumi
import pulumi_kubernetes as k8s

from tooling.mockengine import Graph, RecordedResource, run
from tooling.mockengine.monitor import RecordingMonitor

PROJECT = "compo-test"
STACK = "t"
REGION = "eu-west-1"


def build(program: Callable[[], None], on_monitor: Callable[[RecordingMonitor], None] | None = None) -> Graph:
    """Run ``program`` (stand-ins plus the component) as a Pulumi program and record it.
    ``on_monitor`` sees what was declared even when the program raises."""
    return run(program, project=PROJECT, stack=STACK, config={"aws:region": REGION}, on_monitor=on_monitor)


def k8s_provider(name: str = "k") -> k8s.Provider:
    return k8s.Provider(name, kubeconfig="{}")


def stand_in(name: str, provider: k8s.Provider) -> k8s.core.v1.ConfigMap:
    """A resource for the component to wait for (an aws-node removal, a release, a node group)."""
    return k8s.core.v1.ConfigMap(name, metadata={"name": name, "namespace": "default"},
                                 opts=pulumi.ResourceOptions(provider=provider))


def component(graph: Graph, token: str, *, stand_ins: Iterable[str], outputs: Iterable[str]) -> RecordedResource:
    """The one component of ``token``, after checking the contract every component keeps:
    declared where its caller declares it, every resource it declares a direct child of it
    and named after it, and its outputs registered."""
    comp = graph.one(token)
    assert comp.parent == graph.stack_urn and not comp.custom and not comp.remote
    at_top = {r.name for r in graph if r.parent == graph.stack_urn}
    assert at_top == {comp.name, *stand_ins}, f"declared outside the component: {at_top - {comp.name, *stand_ins}}"
    for r in graph:
        if r.synthetic or r.parent == graph.stack_urn:
            continue
        assert r.parent == comp.urn, f"{r.name} is not a direct child of {comp.name}"
        assert r.name.startswith(f"{comp.name}-"), f"{r.name} is not named after its component"
    assert set(comp.registered_outputs) == set(outputs), "register_outputs must register the component's outputs"
    return comp


def children(graph: Graph, comp: RecordedResource) -> list[RecordedResource]:
    return [r for r in graph.children(comp.urn) if not r.synthetic]


def child(graph: Graph, comp: RecordedResource, type_: str) -> RecordedResource:
    found = [r for r in children(graph, comp) if r.type == type_]
    assert len(found) == 1, f"expected one {type_} in {comp.name}, found {[r.name for r in found]}"
    return found[0]


def uses_provider(resource: RecordedResource, provider: str) -> bool:
    """Provider references are ``<urn>::<id>``."""
    return resource.provider is not None and resource.provider.startswith(provider + "::")
