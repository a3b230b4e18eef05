"""`verify`: the decision of every check on realistic API objects, and the runner with a fake kubectl.

The fixtures in tests/fixtures/verify/ are one healthy dev cluster as `kubectl get -o json`
returns it (two nodes, Cilium 1.20 in ENI mode, Hubble, the demo at stage l7); each failure
case below breaks one thing in a fresh copy of it.
"""

from __future__ import annotations

import copy
import io
import ipaddress
import json
import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from cilium_eks import demo
from cilium_eks.capacity import PodAddressing
from tooling import verify
from tooling.verify import FAIL, PASS, SKIP, CommandOutcome

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
NODE_A = "ip-10-0-21-87.eu-west-1.compute.internal"
NODE_B = "ip-10-0-97-14.eu-west-1.compute.internal"
DEMO_NS = "cilium-eks-dev-demo"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def c() -> dict[str, dict[str, Any]]:
    """A fresh copy of the healthy cluster, by resource."""
    return {n: load(n) for n in ("nodes", "pods", "daemonsets", "deployments", "ciliumendpoints", "ciliumnodes",
                                 "namespaces", "ciliumnetworkpolicies")}


def obj(listing: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [o for o in listing["items"] if o["metadata"]["name"] == name]
    return found


def remove(listing: dict[str, Any], name: str) -> None:
    listing["items"] = [o for o in listing["items"] if o["metadata"]["name"] != name]


def all_checks(c: dict[str, dict[str, Any]]) -> list[verify.CheckResult]:
    return [
        verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"]),
        verify.check_cilium_envoy(c["nodes"], c["daemonsets"]),
        verify.check_cilium_operator(c["deployments"]),
        verify.check_agent_taint(c["nodes"]),
        verify.check_aws_node(c["daemonsets"], c["pods"]),
        verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"]),
        verify.check_pods_managed(c["pods"], c["ciliumendpoints"]),
        verify.check_hubble(c["deployments"]),
        verify.decide_demo_stage(DEMO_NS, c["ciliumnetworkpolicies"])[0],
    ]


def evidence(result: verify.CheckResult) -> str:
    return "\n".join((result.summary, *result.evidence))


def test_the_healthy_cluster_passes_every_check(c):
    results = all_checks(c)
    assert [(r.name, r.status) for r in results if r.status != PASS] == []
    # the fixture is what the checks claim to look at
    assert "agent ready on 2/2 nodes" in results[0].summary
    assert "all 8 pod IPs were allocated by Cilium" in results[5].summary


# --- 1. agent, envoy, operator, taint ------------------------------------------------------


def test_a_node_still_tainted_fails(c):
    obj(c["nodes"], NODE_B)["spec"]["taints"] = [
        {"effect": "NoExecute", "key": "node.cilium.io/agent-not-ready", "value": "true"}]
    r = verify.check_agent_taint(c["nodes"])
    assert r.status == FAIL
    assert f"tainted: {NODE_B}" in r.evidence and NODE_A not in evidence(r)


def test_a_young_karpenter_node_is_left_to_the_age_check_but_a_managed_node_is_not(c):
    taint = [{"effect": "NoExecute", "key": "node.cilium.io/agent-not-ready", "value": "true"}]
    obj(c["nodes"], NODE_B)["spec"]["taints"] = taint
    obj(c["nodes"], NODE_B)["metadata"].setdefault("labels", {})["karpenter.sh/nodepool"] = "burst"
    assert verify.check_agent_taint(c["nodes"]).status == PASS
    obj(c["nodes"], NODE_A)["spec"]["taints"] = taint  # a managed node: still a failure
    r = verify.check_agent_taint(c["nodes"])
    assert r.status == FAIL and f"tainted: {NODE_A}" in r.evidence and NODE_B not in evidence(r)


def test_other_taints_do_not_count(c):
    obj(c["nodes"], NODE_A)["spec"]["taints"] = [{"effect": "NoSchedule", "key": "dedicated", "value": "gpu"}]
    assert verify.check_agent_taint(c["nodes"]).status == PASS


def test_no_node_at_all_fails_the_taint_check(c):
    c["nodes"]["items"] = []
    assert verify.check_agent_taint(c["nodes"]).status == FAIL


def test_agent_daemonset_not_fully_ready_fails(c):
    st = obj(c["daemonsets"], "cilium")["status"]
    st["numberReady"] = 1
    st["numberAvailable"] = 1
    st["numberUnavailable"] = 1
    r = verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"])
    assert r.status == FAIL
    assert "only 1 of 2 agents ready" in evidence(r)


def test_an_agent_pod_not_ready_names_its_node(c):
    agent = obj(c["pods"], "cilium-q9m4d")
    [ready] = [x for x in agent["status"]["conditions"] if x["type"] == "Ready"]
    ready["status"] = "False"
    r = verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"])
    assert r.status == FAIL
    assert f"no ready agent pod on: {NODE_B}" in r.evidence


def test_a_node_the_daemonset_does_not_cover_fails(c):
    extra = copy.deepcopy(obj(c["nodes"], NODE_A))
    extra["metadata"]["name"] = "ip-10-0-44-201.eu-west-1.compute.internal"
    c["nodes"]["items"].append(extra)
    r = verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"])
    assert r.status == FAIL
    assert "targets 2 of 3 nodes" in evidence(r)
    assert "ip-10-0-44-201" in evidence(r)


def test_fargate_nodes_need_no_agent(c):
    fargate = copy.deepcopy(obj(c["nodes"], NODE_A))
    fargate["metadata"]["name"] = "fargate-ip-10-0-50-3.eu-west-1.compute.internal"
    fargate["metadata"]["labels"]["eks.amazonaws.com/compute-type"] = "fargate"
    c["nodes"]["items"].append(fargate)
    assert verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"]).status == PASS


def test_agent_rollout_in_progress_fails(c):
    ds = obj(c["daemonsets"], "cilium")
    ds["metadata"]["generation"] = 2
    ds["status"]["updatedNumberScheduled"] = 1
    r = verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"])
    assert r.status == FAIL and "rollout" in evidence(r)


def test_missing_agent_daemonset_fails(c):
    remove(c["daemonsets"], "cilium")
    r = verify.check_cilium_agent(c["nodes"], c["daemonsets"], c["pods"])
    assert r.status == FAIL and "not installed" in r.summary


def test_envoy_not_ready_fails_and_absent_envoy_is_skipped(c):
    obj(c["daemonsets"], "cilium-envoy")["status"]["numberReady"] = 1
    assert verify.check_cilium_envoy(c["nodes"], c["daemonsets"]).status == FAIL
    remove(c["daemonsets"], "cilium-envoy")
    r = verify.check_cilium_envoy(c["nodes"], c["daemonsets"])
    assert r.status == SKIP and "envoy.enabled=false" in r.summary


def test_operator_unavailable_fails(c):
    op = obj(c["deployments"], "cilium-operator")
    del op["status"]["availableReplicas"]  # the API omits it at 0
    op["status"]["unavailableReplicas"] = 1
    op["status"]["conditions"][0].update(status="False", reason="MinimumReplicasUnavailable",
                                         message="Deployment does not have minimum availability.")
    r = verify.check_cilium_operator(c["deployments"])
    assert r.status == FAIL
    assert "0/1 available, Available=False (MinimumReplicasUnavailable)" in evidence(r)


def test_operator_missing_fails(c):
    remove(c["deployments"], "cilium-operator")
    assert verify.check_cilium_operator(c["deployments"]).status == FAIL


# --- 2. aws-node and where pod IPs come from ------------------------------------------------


def test_aws_node_kept_but_scheduled_nowhere_passes_with_its_selector_as_evidence(c):
    r = verify.check_aws_node(c["daemonsets"], c["pods"])
    assert r.status == PASS
    assert '"io.cilium/aws-node-enabled": "true"' in evidence(r)


def test_an_aws_node_pod_scheduled_fails(c):
    ds = obj(c["daemonsets"], "aws-node")
    ds["status"].update(currentNumberScheduled=1, desiredNumberScheduled=1, numberReady=1)
    aws_pod = copy.deepcopy(obj(c["pods"], "kube-proxy-8wz4t"))
    aws_pod["metadata"].update(name="aws-node-5jx8q", labels={"app.kubernetes.io/name": "aws-node",
                                                              "k8s-app": "aws-node"})
    c["pods"]["items"].append(aws_pod)
    r = verify.check_aws_node(c["daemonsets"], c["pods"])
    assert r.status == FAIL
    assert f"aws-node pod: kube-system/aws-node-5jx8q on {NODE_A}" in r.evidence


def test_aws_node_deleted_passes_but_an_orphan_pod_fails(c):
    remove(c["daemonsets"], "aws-node")
    r = verify.check_aws_node(c["daemonsets"], c["pods"])
    assert r.status == PASS and "deleted" in r.summary
    orphan = copy.deepcopy(obj(c["pods"], "kube-proxy-r7n2x"))
    orphan["metadata"].update(name="aws-node-zz9k2", labels={"k8s-app": "aws-node"})
    c["pods"]["items"].append(orphan)
    assert verify.check_aws_node(c["daemonsets"], c["pods"]).status == FAIL


def test_a_pod_ip_cilium_did_not_allocate_fails(c):
    # what a pod networked by the VPC CNI looks like: an address of the VPC on an ENI, but
    # not in Cilium's book of allocations
    pod = obj(c["pods"], "coredns-5b9dfbf96-7xk2p")
    pod["status"]["podIP"] = "10.0.31.200"
    pod["status"]["podIPs"] = [{"ip": "10.0.31.200"}]
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == FAIL
    assert "kube-system/coredns-5b9dfbf96-7xk2p (10.0.31.200): not in CiliumNode" in evidence(r)


def test_an_ip_cilium_allocated_to_another_pod_fails(c):
    # in ENI mode the operator may adopt an ENI the VPC CNI attached: the address is in the
    # pool, but Cilium gave it to someone else
    used = obj(c["ciliumnodes"], NODE_A)["status"]["ipam"]["used"]
    used["10.0.30.17"]["owner"] = "kube-system/coredns-5b9dfbf96-old12"
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == FAIL
    assert "allocated this IP to 'kube-system/coredns-5b9dfbf96-old12'" in evidence(r)


def test_a_restored_allocation_still_names_its_owner(c):
    used = obj(c["ciliumnodes"], NODE_A)["status"]["ipam"]["used"]
    used["10.0.30.17"]["owner"] = "kube-system/coredns-5b9dfbf96-7xk2p [restored]"
    assert verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"]).status == PASS


def test_a_vpc_cni_annotation_fails_the_pod(c):
    obj(c["pods"], "xwing")["metadata"]["annotations"] = {"vpc.amazonaws.com/pod-ips": "10.0.110.164"}
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == FAIL and "annotated by the VPC CNI" in evidence(r)


def test_a_node_without_ciliumnode_fails_its_pods(c):
    remove(c["ciliumnodes"], NODE_B)
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == FAIL
    assert f"no CiliumNode for node {NODE_B!r}" in evidence(r)


def test_without_ipam_usage_the_endpoint_is_the_evidence(c):
    for cn in c["ciliumnodes"]["items"]:
        del cn["status"]["ipam"]["used"]
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == PASS and "8 by their CiliumEndpoint" in evidence(r)
    remove(c["ciliumendpoints"], "tiefighter")
    r = verify.check_pod_ips_from_cilium(c["pods"], c["ciliumnodes"], c["ciliumendpoints"])
    assert r.status == FAIL and f"{DEMO_NS}/tiefighter" in evidence(r)


# --- Cilium 1.20: ENI IPAM on the multi-pool allocator -------------------------------------
# ciliumnodes-1.20.json is the same cluster as 1.20 agents publish it (eni.rst, "Division of
# responsibilities"): each node's secondary IPs as /32 CIDRs in spec.ipam.pools.allocated, the
# demand in spec.ipam.pools.requested, and no per-IP status.ipam.used, except NODE_B, which
# first ran 1.19 and keeps the stale `used` map it wrote then (pods long gone, none of today's).


def test_on_1_20_pod_ips_come_from_the_nodes_pool_and_their_endpoint(c):
    cnodes = load("ciliumnodes-1.20")
    assert "used" not in obj(cnodes, NODE_A)["status"]["ipam"]
    stale = obj(cnodes, NODE_B)["status"]["ipam"]["used"]
    assert stale and all(v["owner"].startswith("default/old-job-") for v in stale.values())
    r = verify.check_pod_ips_from_cilium(c["pods"], cnodes, c["ciliumendpoints"])
    assert r.status == PASS, r.evidence
    assert "8 in their node's Cilium pool" in evidence(r) and "0 found in CiliumNode status.ipam.used" in evidence(r)


def test_on_1_20_an_ip_outside_the_nodes_pool_fails(c):
    cnodes = load("ciliumnodes-1.20")
    pod = obj(c["pods"], "coredns-5b9dfbf96-7xk2p")
    pod["status"]["podIP"] = "10.0.31.200"
    pod["status"]["podIPs"] = [{"ip": "10.0.31.200"}]
    r = verify.check_pod_ips_from_cilium(c["pods"], cnodes, c["ciliumendpoints"])
    assert r.status == FAIL
    assert "(10.0.31.200): not in CiliumNode" in evidence(r) and "spec.ipam.pools.allocated" in evidence(r)


def test_on_1_20_an_ip_in_the_pool_without_the_pods_endpoint_fails(c):
    cnodes = load("ciliumnodes-1.20")
    remove(c["ciliumendpoints"], "tiefighter")
    r = verify.check_pod_ips_from_cilium(c["pods"], cnodes, c["ciliumendpoints"])
    assert r.status == FAIL
    assert f"{DEMO_NS}/tiefighter" in evidence(r) and "no CiliumEndpoint of this pod holds it" in evidence(r)


def test_a_delegated_prefix_covers_every_ip_in_it(c):
    cnodes = load("ciliumnodes-1.20")
    for cn in cnodes["items"]:
        # The same addresses as /28 prefixes (prefix delegation): 10.0.30.0/28 ... cover them.
        cidrs = cn["spec"]["ipam"]["pools"]["allocated"][0]["cidrs"]
        cn["spec"]["ipam"]["pools"]["allocated"][0]["cidrs"] = sorted(
            {str(ipaddress.ip_network(c_).supernet(new_prefix=28)) for c_ in cidrs})
    assert verify.check_pod_ips_from_cilium(c["pods"], cnodes, c["ciliumendpoints"]).status == PASS


# --- capacity: the live nodes against the capacity model ------------------------------------


def test_every_node_admits_the_pods_cilium_can_address(c):
    # t3.large, secondary IPs: 3 ENIs x (12 - 1) = 33 addresses - 2 (cilium_host, health) = 31 pod
    # IPs + 3 host-network pods (agent, envoy, kube-proxy) = 34 = the fixture's allocatable pods.
    r = verify.check_capacity(c["nodes"], c["ciliumnodes"], PodAddressing())
    assert r.status == PASS, r.evidence
    assert "allocatable pods 34, model 34 (pod IPs); ENIs attached 1 of 3" in evidence(r)


def test_a_node_with_the_vpc_cni_max_pods_drifts(c):
    # What EKS's own NodeConfig would give a t3.large: the VPC CNI formula 3 x (12 - 1) + 2 = 35,
    # one pod more than Cilium can address on it.
    obj(c["nodes"], NODE_A)["status"]["allocatable"]["pods"] = "35"
    r = verify.check_capacity(c["nodes"], c["ciliumnodes"], PodAddressing())
    assert r.status == FAIL
    assert f"{NODE_A}: the kubelet admits 35 pods, Cilium can address 34" in evidence(r)


def test_prefix_delegation_is_read_from_the_node(c):
    # A node whose ENI carries /28 prefixes: 528 addresses, capped at 110 below 30 vCPUs.
    cn = obj(c["ciliumnodes"], NODE_B)
    next(iter(cn["status"]["eni"]["enis"].values()))["prefixes"] = ["10.0.112.0/28"]
    obj(c["nodes"], NODE_B)["status"]["allocatable"]["pods"] = "110"
    r = verify.check_capacity(c["nodes"], c["ciliumnodes"], PodAddressing())
    assert r.status == PASS, r.evidence
    assert "model 110 (AWS max-pods cap)" in evidence(r)
    obj(c["nodes"], NODE_B)["status"]["allocatable"]["pods"] = "34"
    assert verify.check_capacity(c["nodes"], c["ciliumnodes"], PodAddressing()).status == FAIL


def test_kube_proxy_replacement_takes_a_host_network_pod_away(c):
    replaced = PodAddressing(host_network_pods=2)
    assert verify.check_capacity(c["nodes"], c["ciliumnodes"], replaced).status == FAIL


def test_subnet_headroom_comes_from_the_ec2_api():
    answer = {"Subnets": [
        {"SubnetId": "subnet-a", "CidrBlock": "10.0.0.0/18", "AvailabilityZone": "eu-west-1a",
         "AvailableIpAddressCount": 16000},
        {"SubnetId": "subnet-b", "CidrBlock": "10.0.64.0/24", "AvailabilityZone": "eu-west-1b",
         "AvailableIpAddressCount": 20}]}
    ok = CommandOutcome(("aws",), 0, json.dumps({"Subnets": answer["Subnets"][:1]}), "")
    assert verify.decide_subnets(ok, True).status == PASS
    low = CommandOutcome(("aws",), 0, json.dumps(answer), "")
    r = verify.decide_subnets(low, True)
    # subnet-b: a /24 has 251 usable addresses; 20 free is 8%, under the 20% the validator warns at.
    assert r.status == FAIL and "subnet-b (10.0.64.0/24, eu-west-1b): 20 of 251 free (8%)" in evidence(r)
    assert verify.decide_subnets(None, False).status == SKIP
    assert verify.decide_subnets(CommandOutcome(("aws",), 255, "", "AccessDenied"), True).status == FAIL


def test_the_subnets_are_the_ones_ciliums_enis_live_in(c):
    assert verify.subnet_ids(c["ciliumnodes"]) == sorted({
        e["subnet"]["id"] for cn in c["ciliumnodes"]["items"] for e in cn["status"]["eni"]["enis"].values()})


def test_host_network_and_finished_pods_are_not_judged(c):
    with_ip, _ = verify.networked_pods(c["pods"])
    names = {p["metadata"]["name"] for p in with_ip}
    assert "cilium-7xk2p" not in names and "kube-proxy-8wz4t" not in names  # host network
    assert "db-migrate-kx7wp" not in names  # Succeeded, its endpoint is gone
    assert len(names) == 8


# --- 3. every pod managed ------------------------------------------------------------------


def test_a_pod_without_ciliumendpoint_fails_with_the_restart_command(c):
    remove(c["ciliumendpoints"], "hubble-ui-5f7b9c8d6-pq3rt")
    r = verify.check_pods_managed(c["pods"], c["ciliumendpoints"])
    assert r.status == FAIL
    assert ("no CiliumEndpoint: kube-system/hubble-ui-5f7b9c8d6-pq3rt  "
            "(restart it: kubectl delete pod -n kube-system hubble-ui-5f7b9c8d6-pq3rt)") in r.evidence


def test_a_pending_pod_without_ip_is_reported_not_failed(c):
    pending = copy.deepcopy(obj(c["pods"], "tiefighter"))
    pending["metadata"]["name"] = "probe-droid"
    pending["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
    c["pods"]["items"].append(pending)
    r = verify.check_pods_managed(c["pods"], c["ciliumendpoints"])
    assert r.status == PASS
    assert f"1 pod(s) not networked yet (no IP): {DEMO_NS}/probe-droid" in r.evidence


# --- 4. hubble -----------------------------------------------------------------------------


def test_hubble_relay_unavailable_fails(c):
    relay = obj(c["deployments"], "hubble-relay")
    relay["status"]["availableReplicas"] = 0
    relay["status"]["conditions"][0].update(status="False", reason="MinimumReplicasUnavailable")
    r = verify.check_hubble(c["deployments"])
    assert r.status == FAIL and r.summary == "not available: hubble-relay"


def test_hubble_ui_missing_fails(c):
    remove(c["deployments"], "hubble-ui")
    r = verify.check_hubble(c["deployments"])
    assert r.status == FAIL and "hubble-ui" in r.summary


# --- 5. the demo ---------------------------------------------------------------------------


def test_the_live_stage_is_read_from_the_policy(c):
    assert verify.decide_demo_stage(DEMO_NS, c["ciliumnetworkpolicies"])[1] == "l7"
    obj(c["ciliumnetworkpolicies"], demo.POLICY_NAME)["spec"] = demo.policy_spec("l3l4")
    assert verify.decide_demo_stage(DEMO_NS, c["ciliumnetworkpolicies"])[1] == "l3l4"
    c["ciliumnetworkpolicies"]["items"] = []
    assert verify.decide_demo_stage(DEMO_NS, c["ciliumnetworkpolicies"])[1] == "none"


def test_a_policy_edited_by_hand_or_an_extra_policy_fails(c):
    spec = obj(c["ciliumnetworkpolicies"], demo.POLICY_NAME)["spec"]
    spec["ingress"][0]["fromEndpoints"] = [{}]
    result, stage = verify.decide_demo_stage(DEMO_NS, c["ciliumnetworkpolicies"])
    assert result.status == FAIL and stage is None
    fresh = load("ciliumnetworkpolicies")
    extra = copy.deepcopy(fresh["items"][0])
    extra["metadata"]["name"] = "allow-all"
    fresh["items"].append(extra)
    result, stage = verify.decide_demo_stage(DEMO_NS, fresh)
    assert result.status == FAIL and "allow-all" in evidence(result)


def curl(stdout: str = "", code: int | None = 0, stderr: str = "") -> CommandOutcome:
    return CommandOutcome(("curl", "-s"), code, stdout, stderr)


LANDED = curl("Ship landed\n")
TIMED_OUT = curl("", 28, "command terminated with exit code 28\n")


@pytest.mark.parametrize("stage", ["l3l4", "l7"])
def test_xwing_landing_under_a_policy_fails(stage: str):
    r = verify.decide_probe(demo.LANDING_XWING, stage, LANDED)
    assert r.status == FAIL and "not enforced" in r.summary


@pytest.mark.parametrize("stage", ["l3l4", "l7"])
def test_xwing_timing_out_under_a_policy_passes(stage: str):
    assert verify.decide_probe(demo.LANDING_XWING, stage, TIMED_OUT).status == PASS
    # kubectl reporting curl's exit code only on stderr is the same evidence
    assert verify.decide_probe(demo.LANDING_XWING, stage,
                               curl("", 1, "command terminated with exit code 28")).status == PASS


def test_xwing_refused_is_not_a_policy_drop():
    r = verify.decide_probe(demo.LANDING_XWING, "l3l4", curl("", 7, "command terminated with exit code 7"))
    assert r.status == FAIL and "proves no policy drop" in r.summary


def test_without_policy_both_ships_land_and_exhaust_port_is_not_probed():
    assert verify.decide_probe(demo.LANDING_XWING, "none", LANDED).status == PASS
    assert verify.decide_probe(demo.LANDING_XWING, "none", TIMED_OUT).status == FAIL
    assert verify.decide_probe(demo.EXHAUST_TIEFIGHTER, "none", None).status == SKIP
    assert verify.decide_probe(demo.EXHAUST_TIEFIGHTER, "l3l4", None).status == SKIP


@pytest.mark.parametrize("stage", ["none", "l3l4", "l7"])
def test_tiefighter_must_land_at_every_stage(stage: str):
    assert verify.decide_probe(demo.LANDING_TIEFIGHTER, stage, LANDED).status == PASS
    assert verify.decide_probe(demo.LANDING_TIEFIGHTER, stage, TIMED_OUT).status == FAIL


def test_exhaust_port_not_denied_under_l7_fails():
    exploded = curl("Panic: deathstar exploded\n\ngoroutine 1 [running]:\nmain.HandleGarbage(0x2080c3f50, 0x2, 0x4)\n")
    r = verify.decide_probe(demo.EXHAUST_TIEFIGHTER, "l7", exploded)
    assert r.status == FAIL and "answer: Panic: deathstar exploded" in r.evidence
    assert verify.decide_probe(demo.EXHAUST_TIEFIGHTER, "l7", curl("Access denied\n")).status == PASS


def test_a_probe_kubectl_never_finished_fails():
    r = verify.decide_probe(demo.LANDING_XWING, "l7", curl("", None))
    assert r.status == FAIL and "no answer in time" in r.summary


def test_probe_commands_target_the_demo_service():
    assert demo.LANDING_TIEFIGHTER.curl(DEMO_NS, 5) == [
        "curl", "-s", "--max-time", "5", "-X", "POST",
        f"http://deathstar.{DEMO_NS}.svc.cluster.local/v1/request-landing"]
    assert [verify.probe_max_time(t) for t in (5, 20, 60, 600)] == [3, 5, 10, 10]


# --- 6. the cilium CLI ---------------------------------------------------------------------


def test_cilium_cli_missing_is_a_skip_that_says_how_to_install_it():
    r = verify.decide_cilium_status(None)
    assert r.status == SKIP and "not on PATH" in r.summary
    assert "cilium-cli" in evidence(r) and "install" in evidence(r)


def test_cilium_status_ok_reports_its_summary():
    r = verify.decide_cilium_status(CommandOutcome(("cilium",), 0, text("cilium-status.txt")))
    assert r.status == PASS
    assert {"Cilium: OK", "Operator: OK", "Envoy DaemonSet: OK", "Hubble Relay: OK",
            "Cluster Pods: 8/8 managed by Cilium"} <= set(r.evidence)


def test_cilium_status_errors_fail():
    r = verify.decide_cilium_status(CommandOutcome(("cilium",), 1, text("cilium-status-error.txt"),
                                                   "Error: Unable to determine status: timeout"))
    assert r.status == FAIL
    assert any(e.startswith("Errors: cilium cilium-q9m4d") for e in r.evidence)
    assert verify.decide_cilium_status(CommandOutcome(("cilium",), None, "")).status == FAIL


def test_connectivity_test_results():
    assert verify.decide_connectivity_test(None, requested=False, cli_present=True).status == SKIP
    missing = verify.decide_connectivity_test(None, requested=True, cli_present=False)
    assert missing.status == FAIL and "cilium-cli" in evidence(missing)
    ok = verify.decide_connectivity_test(CommandOutcome(("cilium",), 0, text("connectivity-test-passed.txt")),
                                         requested=True, cli_present=True)
    assert ok.status == PASS and "All 76 tests (626 actions) successful" in evidence(ok)
    bad = verify.decide_connectivity_test(CommandOutcome(("cilium",), 1, text("connectivity-test-failed.txt")),
                                          requested=True, cli_present=True)
    assert bad.status == FAIL
    assert bad.evidence[0] == "❌ 1/76 tests failed (2/626 actions), 47 tests skipped, 1 scenarios skipped:"
    assert any("no-policies/pod-to-world/http-to-one.one.one.one-0" in e for e in bad.evidence)


# --- the runner, with a fake kubectl (no cluster, no network) ------------------------------


class FakeCluster:
    """Answers `kubectl get -o json` from the fixtures and `kubectl exec ... curl` per probe."""

    def __init__(self, c: dict[str, dict[str, Any]], answers: dict[str, CommandOutcome] | None = None,
                 cilium_status: CommandOutcome | None = None, broken: dict[str, Any] | None = None) -> None:
        self.c = c
        self.answers = answers or {"POST-tiefighter": LANDED, "POST-xwing": TIMED_OUT,
                                   "PUT-tiefighter": curl("Access denied\n")}
        self.cilium_status = cilium_status
        self.broken = broken or {}
        self.calls: list[list[str]] = []
        self.kubeconfigs: list[tuple[str, int]] = []

    def __call__(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        assert kwargs["timeout"] > 0
        tool = os.path.basename(args[0])
        if tool == "pulumi":
            return subprocess.CompletedProcess(args, 0, json.dumps({"apiVersion": "v1", "kind": "Config"}), "")
        if tool == "cilium":
            assert self.cilium_status is not None
            return subprocess.CompletedProcess(args, self.cilium_status.returncode or 0, self.cilium_status.stdout, "")
        if "--kubeconfig" in args:
            path = args[args.index("--kubeconfig") + 1]
            self.kubeconfigs.append((path, stat.S_IMODE(os.stat(path).st_mode)))
        if "exec" in args:
            pod = args[args.index("--namespace") + 2]
            command = args[args.index("--") + 1:]
            o = self.answers[f"{command[command.index('-X') + 1]}-{pod}"]
            if o.returncode is None:
                raise subprocess.TimeoutExpired(args, kwargs["timeout"])
            return subprocess.CompletedProcess(args, o.returncode, o.stdout, o.stderr)
        resource = args[args.index("get") + 1].split(".")[0]
        if resource in self.broken:
            problem = self.broken[resource]
            if problem == "timeout":
                raise subprocess.TimeoutExpired(args, kwargs["timeout"])
            return subprocess.CompletedProcess(args, 1, "", problem)
        return subprocess.CompletedProcess(args, 0, json.dumps(self.c[resource]), "")


def which_only(*present: str) -> Callable[[str], str | None]:
    return lambda name: f"/usr/local/bin/{name}" if name in present else None


def run_main(argv: list[str], fake: FakeCluster, which: Callable[[str], str | None]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verify.main(argv, out=out, err=err, which=which, run=fake)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\n")
    return str(path)


def lines_by_check(output: str) -> dict[str, str]:
    out = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (PASS, FAIL, SKIP):
            out[parts[1]] = parts[0]
    return out


def test_runner_on_a_healthy_cluster_exits_0_and_reports_every_check(c, kubeconfig):
    fake = FakeCluster(c, cilium_status=CommandOutcome(("cilium",), 0, text("cilium-status.txt")))
    code, out, _ = run_main(["--kubeconfig", kubeconfig, "--context", "dev"], fake, which_only("kubectl", "cilium"))
    assert code == 0, out
    assert lines_by_check(out) == {
        "api-server": PASS, "cilium-agent": PASS, "cilium-envoy": PASS, "cilium-operator": PASS,
        "agent-not-ready-taint": PASS, "aws-node-not-scheduled": PASS, "pod-ips-from-cilium": PASS,
        "pods-managed-by-cilium": PASS, "hubble": PASS, "encryption": SKIP, "metrics": SKIP, "capacity": PASS,
        "karpenter": SKIP, "subnet-headroom": SKIP,
        "demo-policy": PASS, "demo-tiefighter-landing": PASS,
        "demo-xwing-landing": PASS, "demo-tiefighter-exhaust-port": PASS, "cilium-status": PASS,
        "cilium-connectivity-test": SKIP}
    assert "verify: 15 passed, 0 failed, 5 skipped" in out
    kubectl_calls = [a for a in fake.calls if a[0].endswith("kubectl")]
    assert all(a[1:5] == ["--kubeconfig", kubeconfig, "--context", "dev"] for a in kubectl_calls)
    # each list is fetched once and shared by the checks that need it
    gets = [tuple(a[5:]) for a in kubectl_calls if "get" in a]
    assert len(gets) == len(set(gets))
    cilium = [a for a in fake.calls if a[0].endswith("cilium")]
    assert cilium == [["/usr/local/bin/cilium", "status", "--wait", "--wait-duration", "55s", "--context", "dev"]]


def test_runner_exits_1_when_xwing_lands(c, kubeconfig):
    fake = FakeCluster(c, answers={"POST-tiefighter": LANDED, "POST-xwing": LANDED,
                                   "PUT-tiefighter": curl("Access denied\n")})
    code, out, _ = run_main(["--kubeconfig", kubeconfig], fake, which_only("kubectl"))
    assert code == 1
    checks = lines_by_check(out)
    assert checks["demo-xwing-landing"] == FAIL
    assert checks["cilium-status"] == SKIP  # no cilium CLI here, and the line says how to get it
    assert "brew install cilium-cli" in out


def test_runner_skips_the_demo_when_it_is_off(c, kubeconfig):
    c["namespaces"]["items"] = []
    code, out, _ = run_main(["--kubeconfig", kubeconfig], FakeCluster(c), which_only("kubectl"))
    assert code == 0
    assert lines_by_check(out)["demo"] == SKIP
    assert "demo is off" in out


def test_a_check_that_times_out_fails_alone(c, kubeconfig):
    fake = FakeCluster(c, broken={"ciliumnodes": "timeout"})
    code, out, _ = run_main(["--kubeconfig", kubeconfig, "--timeout", "20"], fake, which_only("kubectl"))
    assert code == 1
    checks = lines_by_check(out)
    assert checks["pod-ips-from-cilium"] == FAIL and checks["pods-managed-by-cilium"] == PASS
    assert "timed out" in out


def test_an_unreachable_cluster_fails_once_and_skips_the_rest(c, kubeconfig):
    noise = 'E0803 09:14:07.1 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list"'
    fake = FakeCluster(c, broken={"nodes": f"{noise}\n{noise}\n"
                                           "Unable to connect to the server: dial tcp 203.0.113.7:443: i/o timeout\n"})
    code, out, _ = run_main(["--kubeconfig", kubeconfig], fake, which_only("kubectl"))
    assert code == 1
    assert lines_by_check(out) == {"api-server": FAIL, "(all": SKIP}
    assert "failed (exit 1): Unable to connect to the server: dial tcp 203.0.113.7:443: i/o timeout" in out
    assert "memcache" not in out


def test_a_probe_that_never_returns_fails_only_that_probe(c, kubeconfig):
    fake = FakeCluster(c, answers={"POST-tiefighter": LANDED, "POST-xwing": curl("", None),
                                   "PUT-tiefighter": curl("Access denied\n")})
    code, out, _ = run_main(["--kubeconfig", kubeconfig], fake, which_only("kubectl"))
    checks = lines_by_check(out)
    assert code == 1 and checks["demo-xwing-landing"] == FAIL and checks["demo-tiefighter-exhaust-port"] == PASS


def test_missing_kubectl_says_how_to_install_it_and_exits_2(c, kubeconfig):
    fake = FakeCluster(c)
    code, out, err = run_main(["--kubeconfig", kubeconfig], fake, which_only("cilium", "pulumi"))
    assert code == 2
    assert "kubectl is not on PATH" in err and "https://kubernetes.io/docs/tasks/tools/" in err
    assert "brew install kubectl" in err
    assert fake.calls == [] and out == ""


def test_missing_kubectl_on_the_real_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kubeconfig: str):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: nothing to find
    err = io.StringIO()
    assert verify.main(["--kubeconfig", kubeconfig], out=io.StringIO(), err=err) == 2
    assert "kubectl is not on PATH" in err.getvalue()


def test_stack_kubeconfig_comes_from_pulumi_into_a_private_file_removed_afterwards(c):
    fake = FakeCluster(c)
    code, out, _ = run_main(["--stack", "dev"], fake, which_only("kubectl", "pulumi"))
    assert code == 0, out
    assert fake.calls[0] == ["/usr/local/bin/pulumi", "stack", "output", "kubeconfig", "--show-secrets",
                             "--stack", "dev"]
    paths = {p for p, _ in fake.kubeconfigs}
    assert len(paths) == 1 and {mode for _, mode in fake.kubeconfigs} == {0o600}
    assert not Path(paths.pop()).exists()
    assert "verify: stack dev" in out


def test_stack_without_pulumi_or_bad_arguments_exit_2(c, kubeconfig):
    code, _, err = run_main(["--stack", "dev"], FakeCluster(c), which_only("kubectl"))
    assert code == 2 and "Pulumi CLI" in err and "get.pulumi.com" in err
    code, _, err = run_main(["--kubeconfig", "/nonexistent/config"], FakeCluster(c), which_only("kubectl"))
    assert code == 2 and "no such file" in err
    code, _, _ = run_main(["--stack", "dev", "--kubeconfig", kubeconfig], FakeCluster(c), which_only("kubectl"))
    assert code == 2
