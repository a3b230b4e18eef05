"""AwsNodeRemoval alone: each DaemonSet is patched onto no node (or deleted once), through the
cluster's provider, and ``done`` is what a caller waits for."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from cilium_eks.aws_node import DISABLE_SELECTOR
from components import AwsNodeRemoval, AwsNodeRemovalArgs
from tests.components.harness import build, children, component, k8s_provider, uses_provider
from tooling.mockengine import Graph, RecordedResource

TOKEN = "cilium-eks:components:AwsNodeRemoval"
PATCH = "kubernetes:apps/v1:DaemonSetPatch"
COMMAND = "command:local:Command"
KUBECONFIG = '{"apiVersion": "v1", "kind": "Config"}'


def build_removal(mode: Any, daemonsets: tuple[str, ...] = ("aws-node",)) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        done = AwsNodeRemoval("cni", AwsNodeRemovalArgs(mode=mode, k8s_provider=provider, kubeconfig=KUBECONFIG,
                                                        daemonsets=daemonsets)).done
        # What comes next (the Cilium release) waits for `done`.
        k8s.core.v1.ConfigMap("next", metadata={"name": "next"},
                              opts=pulumi.ResourceOptions(provider=provider, depends_on=done))

    return build(program)


def removal(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins={"k", "next"}, outputs={"mode", "daemonsets"})


@pytest.mark.parametrize("daemonsets", [("aws-node",), ("aws-node", "kube-proxy")])
def test_patch_mode_schedules_each_daemonset_on_no_node(daemonsets: tuple[str, ...]):
    graph = build_removal("patch", daemonsets)
    comp = removal(graph)
    patches = children(graph, comp)
    assert {p.type for p in patches} == {PATCH}
    assert sorted(p.inputs["metadata"]["name"] for p in patches) == sorted(daemonsets)
    for p in patches:
        assert p.inputs["metadata"]["namespace"] == "kube-system"
        assert p.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
        assert p.inputs["spec"] == {"template": {"spec": {"nodeSelector": dict(DISABLE_SELECTOR)}}}
        assert uses_provider(p, graph.named("k").urn)
    assert graph.named("next").explicit_dependencies == {p.urn for p in patches}
    assert comp.registered_outputs == {"mode": "patch", "daemonsets": list(daemonsets)}


def test_delete_mode_deletes_each_daemonset_once_and_never_on_destroy():
    graph = build_removal("delete", ("aws-node", "kube-proxy"))
    comp = removal(graph)
    commands = children(graph, comp)
    assert {c.type for c in commands} == {COMMAND}
    assert sorted(c.inputs["environment"]["DAEMONSET"] for c in commands) == ["aws-node", "kube-proxy"]
    for c in commands:
        assert "delete daemonset" in c.inputs["create"] and "--ignore-not-found" in c.inputs["create"]
        assert "delete" not in c.inputs, "destroy must not touch a cluster that is going away"
        assert c.inputs["environment"]["KUBECONFIG_CONTENT"] == KUBECONFIG
        assert c.inputs["triggers"] == [KUBECONFIG], "a replaced cluster gets its aws-node deleted again"
    assert graph.named("next").explicit_dependencies == {c.urn for c in commands}


def test_an_unknown_mode_is_refused_before_anything_is_removed():
    monitors: list[Any] = []

    def program() -> None:
        AwsNodeRemoval("cni", AwsNodeRemovalArgs(mode="remove", k8s_provider=k8s_provider(),  # type: ignore[arg-type]
                                                 kubeconfig=KUBECONFIG))

    with pytest.raises(ValueError, match="mode must be one of"):
        build(program, on_monitor=monitors.append)
    assert not [r for r in monitors[0].recorded.values() if r.type in (PATCH, COMMAND)]
