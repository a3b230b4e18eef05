"""`verify`'s Karpenter checks on realistic API objects (tests/fixtures/verify/karpenter-*.json: a prod
cluster with the controller, the `burst` NodePool, a managed node, a Karpenter node Cilium networked long
ago and one launched three minutes before NOW), and through the runner with a fake kubectl."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from cilium_eks import capacity, instance_types
from cilium_eks.capacity import PodAddressing
from tests.test_verify import FakeCluster, c, kubeconfig, lines_by_check, load, which_only  # noqa: F401  # fixtures
from tooling import verify
from tooling.verify import FAIL, PASS, SKIP
from tooling.verify.karpenter import (
    STUCK_TAINT_MINUTES,
    check_agent_taint_age,
    check_karpenter_controller,
    check_nodepool_startup_taints,
    check_nodepools_ready,
)

NOW = datetime(2026, 8, 24, 12, 30, 5, tzinfo=UTC)
YOUNG = "ip-10-20-133-9.eu-west-1.compute.internal"
OLD_KARPENTER = "ip-10-20-71-203.eu-west-1.compute.internal"


@pytest.fixture
def k() -> dict[str, dict[str, Any]]:
    return {"deployments": load("karpenter-deployments"), "nodepools": load("karpenter-nodepools"),
            "nodes": load("karpenter-nodes")}


def node(listing: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [n for n in listing["items"] if n["metadata"]["name"] == name]
    return found


# --- the controller ------------------------------------------------------------------------------


def test_a_ready_controller_passes(k):
    r = check_karpenter_controller(k["deployments"])
    assert r.status == PASS
    assert r.evidence == ("Deployment kube-system/karpenter: 2/2 ready, 2 available, 2 up to date",)


def test_a_controller_replica_not_ready_fails(k):
    k["deployments"]["items"][0]["status"].update(readyReplicas=1, availableReplicas=1)
    r = check_karpenter_controller(k["deployments"])
    assert r.status == FAIL and "kube-system/karpenter: 1 of 2 replicas ready" in r.evidence


def test_without_the_controller_everything_is_skipped(k):
    k["deployments"]["items"] = []
    assert check_karpenter_controller(k["deployments"]).status == SKIP


# --- NodePools -----------------------------------------------------------------------------------


def test_ready_nodepools_pass(k):
    r = check_nodepools_ready(k["nodepools"])
    assert r.status == PASS and r.evidence == ("NodePool burst: Ready True",)


def test_a_nodepool_whose_nodeclass_is_not_ready_fails_with_its_reason():
    r = check_nodepools_ready(load("karpenter-nodepools-broken"))
    assert r.status == FAIL and r.summary == "1 of 2 NodePools are not Ready"
    assert "gpu is not Ready (NodeClassNotReady: NodeClassReady=False)" in r.evidence


def test_karpenter_without_any_nodepool_fails(k):
    k["nodepools"]["items"] = []
    assert check_nodepools_ready(k["nodepools"]).status == FAIL


def test_every_nodepool_declares_the_startup_taint(k):
    assert check_nodepool_startup_taints(k["nodepools"]).status == PASS


def test_a_nodepool_with_the_taint_under_another_effect_fails():
    # The broken fixture's `gpu` pool declares the key with NoSchedule: Karpenter matches key and effect.
    r = check_nodepool_startup_taints(load("karpenter-nodepools-broken"))
    assert r.status == FAIL and r.evidence == ("missing on: gpu",)


def test_a_nodepool_without_startup_taints_fails(k):
    del k["nodepools"]["items"][0]["spec"]["template"]["spec"]["startupTaints"]
    assert check_nodepool_startup_taints(k["nodepools"]).status == FAIL


# --- the agent-not-ready taint's age ---------------------------------------------------------------


def test_a_node_tainted_for_three_minutes_is_fine(k):
    r = check_agent_taint_age(k["nodes"], NOW)
    assert r.status == PASS
    assert r.evidence == (f"{YOUNG} (NodePool burst): tainted for 2 min",)


def test_a_node_tainted_for_longer_than_the_limit_fails(k):
    later = NOW.replace(minute=45)
    r = check_agent_taint_age(k["nodes"], later)
    assert r.status == FAIL
    assert f"{YOUNG} (NodePool burst): tainted for 17 min" in r.evidence
    assert f"more than {STUCK_TAINT_MINUTES} min" in r.summary


def test_without_time_added_the_node_creation_counts(k):
    # timeAdded is written for NoExecute taints only; an older node keeping a taint without it is stuck.
    tainted = node(k["nodes"], OLD_KARPENTER)
    tainted["spec"]["taints"] = [{"key": "node.cilium.io/agent-not-ready", "value": "true", "effect": "NoSchedule"}]
    r = check_agent_taint_age(k["nodes"], NOW)
    assert r.status == FAIL and f"{OLD_KARPENTER} (NodePool burst): tainted for 128 min" in r.evidence


def test_the_limit_is_a_parameter(k):
    assert check_agent_taint_age(k["nodes"], NOW, minutes=1).status == FAIL


# --- capacity on Karpenter nodes -----------------------------------------------------------------------


def test_a_karpenter_node_may_hold_fewer_pods_than_its_type_addresses_but_never_more(k):
    # Its EC2NodeClass gives every node the smallest max pods over the pool's types.
    addressing = PodAddressing()
    t = instance_types.lookup("m6i.xlarge")
    assert t is not None
    model = capacity.node_capacity(t, prefix_delegation=False, host_network_pods=addressing.host_network_total)
    karpenter_node = copy.deepcopy(node(k["nodes"], OLD_KARPENTER))
    managed = copy.deepcopy(node(k["nodes"], "ip-10-20-7-14.eu-west-1.compute.internal"))
    for n in (karpenter_node, managed):
        n["status"]["allocatable"]["pods"] = str(model.max_pods - 8)
    assert verify.check_capacity([karpenter_node], [], addressing).status == PASS
    assert verify.check_capacity([managed], [], addressing).status == FAIL, "a managed node must match exactly"
    karpenter_node["status"]["allocatable"]["pods"] = str(model.max_pods + 1)
    assert verify.check_capacity([karpenter_node], [], addressing).status == FAIL


# --- the runner --------------------------------------------------------------------------------------


def test_the_runner_runs_the_karpenter_checks_where_karpenter_runs(c, k, kubeconfig):  # noqa: F811
    cluster = {**c, "nodepools": k["nodepools"]}
    cluster["deployments"] = {**c["deployments"], "items": [*c["deployments"]["items"], *k["deployments"]["items"]]}
    fake = FakeCluster(cluster)
    out = io.StringIO()
    verify.main(["--kubeconfig", kubeconfig], out=out, err=io.StringIO(), which=which_only("kubectl"), run=fake)
    checks = lines_by_check(out.getvalue())
    assert {name: checks[name] for name in ("karpenter-controller", "karpenter-nodepools-ready",
                                            "karpenter-startup-taint")} == {
        "karpenter-controller": PASS, "karpenter-nodepools-ready": PASS, "karpenter-startup-taint": PASS}
    assert "agent-not-ready-age" in checks and "karpenter" not in checks
    gets = [a[a.index("get") + 1:] for a in fake.calls if "get" in a]
    assert ["deployments", "-o", "json", "--all-namespaces", "--selector", "app.kubernetes.io/name=karpenter"] in gets


def test_the_runner_skips_karpenter_where_it_is_not_installed_without_asking_for_its_crds(c, kubeconfig):  # noqa: F811
    fake = FakeCluster(c)
    out = io.StringIO()
    verify.main(["--kubeconfig", kubeconfig], out=out, err=io.StringIO(), which=which_only("kubectl"), run=fake)
    assert lines_by_check(out.getvalue())["karpenter"] == SKIP
    assert "Karpenter is not installed" in out.getvalue()
    assert not any("nodepools.karpenter.sh" in a for call in fake.calls for a in call)
