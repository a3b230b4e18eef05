"""Verify a running cluster: the manual recipe's checks, as code.

    python -m tooling.verify --stack dev                  # kubeconfig from the stack's outputs
    python -m tooling.verify --kubeconfig ~/.kube/config --context my-cluster
    python -m tooling.verify --stack dev --connectivity-test --timeout 90

Every check prints one line, PASS, FAIL or SKIP (with the reason), followed by its evidence.
The exit code is 0 when nothing failed, 1 when a check failed, 2 when verify could not run
(usage, kubectl or pulumi missing, no kubeconfig).

Design: the ``check_*`` / ``decide_*`` functions are pure. They take what the API returns
(``kubectl get -o json``: a ``List`` or its ``items``) or a command's outcome, and return a
:class:`CheckResult`. The runner (:func:`run_checks`) only fetches with ``kubectl`` (no
Python Kubernetes client to install) under a per-check deadline, and prints.

How "no pod got its IP from the VPC CNI" is decided (check ``pod-ips-from-cilium``). In ENI
mode Cilium and the VPC CNI both hand out secondary IPs of ENIs in the VPC, so an IP's range
proves nothing, and cilium-operator may even adopt ENIs that aws-node attached. What does
prove it is Cilium's own book-keeping: when the Cilium CNI plugin sets up a pod it asks the
local agent for an IP with the owner ``<namespace>/<pod>``, and the agent records that
allocation in its node's CiliumNode under ``status.ipam.used[<ip>].owner``. So a pod's IP is
Cilium's iff the CiliumNode of the pod's node lists that IP as used by that very pod. When a
CiliumNode publishes no ``used`` map at all, the fallback evidence is the pod's
CiliumEndpoint listing the same IP. A VPC CNI annotation on the pod
(``vpc.amazonaws.com/pod-ips``, ``vpc.amazonaws.com/pod-eni``) fails the pod outright.
Host-networked pods are excluded: their IP is the node's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cilium_eks import demo
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.cilium import NAMESPACE as CILIUM_NAMESPACE

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"

AGENT_DAEMONSET = "cilium"
ENVOY_DAEMONSET = "cilium-envoy"
OPERATOR_DEPLOYMENT = "cilium-operator"
AWS_NODE_DAEMONSET = "aws-node"
HUBBLE_DEPLOYMENTS = ("hubble-relay", "hubble-ui")
AGENT_POD_LABEL = ("k8s-app", "cilium")
AWS_NODE_POD_LABEL = ("k8s-app", "aws-node")
TAINT_KEY = AGENT_NOT_READY_TAINT["key"]
#: Set on pods by the VPC CNI (ANNOTATE_POD_IP, security groups for pods): its fingerprints.
VPC_CNI_POD_ANNOTATIONS = ("vpc.amazonaws.com/pod-ips", "vpc.amazonaws.com/pod-eni")
#: curl's exit code for "operation timed out": what a dropped connection looks like.
CURL_TIMED_OUT = 28

INSTALL_KUBECTL = """kubectl is not on PATH; verify reads the cluster through it.
Install it (https://kubernetes.io/docs/tasks/tools/), then run verify again:
  Linux (x86_64): curl -LO "https://dl.k8s.io/release/$(curl -Ls https://dl.k8s.io/release/stable.txt)/bin/linux/amd64/kubectl" && sudo install -m 0755 kubectl /usr/local/bin/kubectl
                  (arm64: replace amd64 with arm64)
  macOS:          brew install kubectl
  Windows:        winget install -e --id Kubernetes.kubectl
An EKS kubeconfig also needs the AWS CLI v2 for `aws eks get-token`."""  # noqa: E501

INSTALL_CILIUM_CLI = (
    "install the cilium CLI (https://docs.cilium.io/en/stable/gettingstarted/k8s-install-default/"
    "#install-the-cilium-cli): macOS `brew install cilium-cli`; Linux "
    "`CLI=$(curl -s https://raw.githubusercontent.com/cilium/cilium-cli/main/stable.txt); "
    "curl -L --fail --remote-name-all https://github.com/cilium/cilium-cli/releases/download/$CLI/"
    "cilium-linux-amd64.tar.gz && sudo tar xzf cilium-linux-amd64.tar.gz -C /usr/local/bin`"
)

INSTALL_PULUMI = ("install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` "
                  "(https://www.pulumi.com/docs/iac/download-install/)")


# --------------------------------------------------------------------------------------
# Results and command outcomes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # PASS | FAIL | SKIP
    summary: str
    evidence: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def _result(name: str, ok: bool, summary: str, evidence: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, PASS if ok else FAIL, summary, tuple(evidence))


@dataclass(frozen=True)
class CommandOutcome:
    """What running a command gave: ``returncode`` is None when it timed out."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


# --------------------------------------------------------------------------------------
# Reading Kubernetes objects
# --------------------------------------------------------------------------------------

Obj = Mapping[str, Any]


def items(objs: Obj | Sequence[Obj] | None) -> list[Obj]:
    """The objects of a ``kubectl get -o json`` answer (a List) or of a plain list."""
    if objs is None:
        return []
    if isinstance(objs, Mapping):
        return list(objs.get("items") or [])
    return list(objs)


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def name_of(o: Obj) -> str:
    return str(_meta(o).get("name", ""))


def key_of(o: Obj) -> str:
    ns = _meta(o).get("namespace")
    return f"{ns}/{name_of(o)}" if ns else name_of(o)


def _find(objs: Obj | Sequence[Obj] | None, name: str, namespace: str | None = None) -> Obj | None:
    for o in items(objs):
        if name_of(o) == name and (namespace is None or _meta(o).get("namespace") == namespace):
            return o
    return None


def _condition(o: Obj, type_: str) -> Obj | None:
    for c in (o.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def _has_label(o: Obj, label: tuple[str, str]) -> bool:
    return (_meta(o).get("labels") or {}).get(label[0]) == label[1]


def _pod_ready(pod: Obj) -> bool:
    ready = _condition(pod, "Ready")
    return (pod.get("status") or {}).get("phase") == "Running" and bool(ready) and ready.get("status") == "True"


def _host_network(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def _networked_pods(pods: Obj | Sequence[Obj] | None) -> tuple[list[Obj], list[Obj]]:
    """Pods with a pod-network IP (not host-networked, not finished, not being deleted), and
    those still waiting for one."""
    with_ip, waiting = [], []
    for p in items(pods):
        status = p.get("status") or {}
        if _host_network(p) or status.get("phase") in ("Succeeded", "Failed") or _meta(p).get("deletionTimestamp"):
            continue
        (with_ip if status.get("podIP") else waiting).append(p)
    return with_ip, waiting


def _cilium_nodes(nodes: Obj | Sequence[Obj] | None) -> list[Obj]:
    """Nodes a Cilium agent must run on: Linux, not Fargate (Fargate has its own network)."""
    out = []
    for n in items(nodes):
        labels = _meta(n).get("labels") or {}
        if labels.get("eks.amazonaws.com/compute-type") == "fargate":
            continue
        if labels.get("kubernetes.io/os", "linux") != "linux":
            continue
        out.append(n)
    return out


def _ds_counts(ds: Obj) -> dict[str, int]:
    st = ds.get("status") or {}
    # numberAvailable and updatedNumberScheduled are omitted by the API when 0
    return {k: int(st.get(k) or 0) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                             "numberAvailable", "updatedNumberScheduled", "numberMisscheduled")}


def _ds_line(ds: Obj) -> str:
    c = _ds_counts(ds)
    return (f"DaemonSet {key_of(ds)}: desired {c['desiredNumberScheduled']}, ready {c['numberReady']}, "
            f"available {c['numberAvailable']}, up-to-date {c['updatedNumberScheduled']}")


def _rollout_done(o: Obj) -> bool:
    observed = (o.get("status") or {}).get("observedGeneration")
    generation = _meta(o).get("generation")
    return observed is None or generation is None or int(observed) >= int(generation)


# --------------------------------------------------------------------------------------
# 1. Cilium agent, envoy, operator, taint
# --------------------------------------------------------------------------------------


def check_cilium_agent(nodes: Obj | Sequence[Obj], daemonsets: Obj | Sequence[Obj],
                       pods: Obj | Sequence[Obj]) -> CheckResult:
    """The agent DaemonSet is fully rolled out and ready, with a ready agent pod on every node."""
    name = "cilium-agent"
    ds = _find(daemonsets, AGENT_DAEMONSET, CILIUM_NAMESPACE)
    if ds is None:
        return _result(name, False, f"DaemonSet {CILIUM_NAMESPACE}/{AGENT_DAEMONSET} not found: Cilium is not "
                       "installed (check the Helm release)")
    expected = _cilium_nodes(nodes)
    ready_on = {(p.get("spec") or {}).get("nodeName") for p in items(pods)
                if _has_label(p, AGENT_POD_LABEL) and _meta(p).get("namespace") == CILIUM_NAMESPACE and _pod_ready(p)}
    missing = sorted(name_of(n) for n in expected if name_of(n) not in ready_on)
    c = _ds_counts(ds)
    evidence = [_ds_line(ds), f"nodes that need an agent: {len(expected)}"]
    problems = []
    if not expected:
        problems.append("no node: nothing runs yet (are the node groups up?)")
    if c["numberReady"] < c["desiredNumberScheduled"] or c["numberAvailable"] < c["desiredNumberScheduled"]:
        problems.append(f"only {c['numberReady']} of {c['desiredNumberScheduled']} agents ready")
    if c["updatedNumberScheduled"] < c["desiredNumberScheduled"] or not _rollout_done(ds):
        problems.append("a rollout is still in progress")
    if c["desiredNumberScheduled"] < len(expected):
        problems.append(f"the DaemonSet targets {c['desiredNumberScheduled']} of {len(expected)} nodes")
    if missing:
        problems.append(f"no ready agent pod on: {', '.join(missing)}")
    evidence += problems
    if problems:
        return _result(name, False, "the Cilium agent is not ready on every node", evidence)
    return _result(name, True, f"agent ready on {len(expected)}/{len(expected)} nodes", evidence)


def check_cilium_envoy(nodes: Obj | Sequence[Obj], daemonsets: Obj | Sequence[Obj]) -> CheckResult:
    """The standalone Envoy DaemonSet (default since 1.16) enforces L7 rules: ready everywhere."""
    name = "cilium-envoy"
    ds = _find(daemonsets, ENVOY_DAEMONSET, CILIUM_NAMESPACE)
    if ds is None:
        return CheckResult(name, SKIP, f"no DaemonSet {CILIUM_NAMESPACE}/{ENVOY_DAEMONSET}: Envoy runs inside the "
                           "agent (envoy.enabled=false), covered by cilium-agent")
    c = _ds_counts(ds)
    expected = len(_cilium_nodes(nodes))
    ok = (c["numberReady"] == c["desiredNumberScheduled"] >= expected > 0
          and c["updatedNumberScheduled"] >= c["desiredNumberScheduled"] and _rollout_done(ds))
    return _result(name, ok, f"Envoy ready on {c['numberReady']}/{expected} nodes", [_ds_line(ds)])


def check_cilium_operator(deployments: Obj | Sequence[Obj]) -> CheckResult:
    return _deployment_available("cilium-operator", deployments, OPERATOR_DEPLOYMENT,
                                 "it manages the pod ENIs and registers the CRDs")


def check_agent_taint(nodes: Obj | Sequence[Obj]) -> CheckResult:
    """Every node started with node.cilium.io/agent-not-ready; the agent removes it once it
    can network pods. A node still carrying it has no working Cilium."""
    name = "agent-not-ready-taint"
    all_nodes = items(nodes)
    if not all_nodes:
        return _result(name, False, "no node in the cluster: nothing shows the agent removed the taint")
    tainted = sorted(name_of(n) for n in all_nodes
                     if any(t.get("key") == TAINT_KEY for t in (n.get("spec") or {}).get("taints") or []))
    if tainted:
        return _result(name, False, f"{len(tainted)} of {len(all_nodes)} nodes still carry {TAINT_KEY}",
                       [f"tainted: {n}" for n in tainted])
    return _result(name, True, f"none of {len(all_nodes)} nodes carries {TAINT_KEY}",
                   [f"nodes: {', '.join(sorted(name_of(n) for n in all_nodes))}"])


# --------------------------------------------------------------------------------------
# 2. The AWS VPC CNI is out of the way
# --------------------------------------------------------------------------------------


def check_aws_node(daemonsets: Obj | Sequence[Obj], pods: Obj | Sequence[Obj]) -> CheckResult:
    """aws-node is deleted, or kept with a nodeSelector no node matches; no pod of it exists."""
    name = "aws-node-not-scheduled"
    ds = _find(daemonsets, AWS_NODE_DAEMONSET, CILIUM_NAMESPACE)
    leftover = sorted(f"{key_of(p)} on {(p.get('spec') or {}).get('nodeName', '?')}" for p in items(pods)
                      if _has_label(p, AWS_NODE_POD_LABEL) and _meta(p).get("namespace") == CILIUM_NAMESPACE)
    evidence: list[str] = []
    if ds is None:
        evidence.append(f"DaemonSet {CILIUM_NAMESPACE}/{AWS_NODE_DAEMONSET} does not exist (deleted)")
        scheduled = 0
    else:
        c = _ds_counts(ds)
        selector = ((ds.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
        evidence.append(_ds_line(ds) + f", nodeSelector {json.dumps(selector, sort_keys=True)}")
        scheduled = max(c["desiredNumberScheduled"], c["currentNumberScheduled"], c["numberReady"])
    evidence += [f"aws-node pod: {p}" for p in leftover]
    if scheduled or leftover:
        return _result(name, False, f"aws-node is scheduled on {scheduled} node(s), {len(leftover)} pod(s) exist",
                       evidence)
    return _result(name, True, "aws-node runs nowhere" if ds is not None else "aws-node is deleted", evidence)


def check_pod_ips_from_cilium(pods: Obj | Sequence[Obj], ciliumnodes: Obj | Sequence[Obj],
                              ciliumendpoints: Obj | Sequence[Obj]) -> CheckResult:
    """Every pod-network IP was allocated by Cilium to that pod (see the module docstring)."""
    name = "pod-ips-from-cilium"
    cnodes = {name_of(cn): cn for cn in items(ciliumnodes)}
    ceps = {key_of(e): e for e in items(ciliumendpoints)}
    with_ip, _ = _networked_pods(pods)
    bad: list[str] = []
    by_ipam = by_cep = 0
    for p in with_ip:
        ip = p["status"]["podIP"]
        where = f"{key_of(p)} ({ip})"
        annotations = _meta(p).get("annotations") or {}
        vpc_cni = [a for a in VPC_CNI_POD_ANNOTATIONS if a in annotations]
        if vpc_cni:
            bad.append(f"{where}: annotated by the VPC CNI ({', '.join(vpc_cni)})")
            continue
        node = (p.get("spec") or {}).get("nodeName", "")
        cn = cnodes.get(node)
        if cn is None:
            bad.append(f"{where}: no CiliumNode for node {node!r}, so Cilium allocates nothing there")
            continue
        used = ((cn.get("status") or {}).get("ipam") or {}).get("used") or {}
        if used:
            entry = used.get(ip)
            owner = str((entry or {}).get("owner", "")).split(" ")[0]
            if entry is None:
                bad.append(f"{where}: not in CiliumNode {node} status.ipam.used, so not allocated by Cilium")
            elif owner != key_of(p):
                bad.append(f"{where}: Cilium allocated this IP to {owner or 'nobody'!r}, not to this pod")
            else:
                by_ipam += 1
            continue
        cep_ips = {a.get("ipv4") for a in (((ceps.get(key_of(p)) or {}).get("status") or {})
                                            .get("networking") or {}).get("addressing") or []}
        if ip in cep_ips:
            by_cep += 1
        else:
            bad.append(f"{where}: CiliumNode {node} publishes no IPAM usage and no CiliumEndpoint lists this IP")
    evidence = [f"{len(with_ip)} pods on the pod network: {by_ipam} found in CiliumNode status.ipam.used "
                f"with the pod as owner, {by_cep} by their CiliumEndpoint"]
    if bad:
        return _result(name, False, f"{len(bad)} pod IP(s) did not come from Cilium's IPAM", evidence + bad)
    if not with_ip:
        return _result(name, False, "no pod on the pod network yet: nothing shows Cilium allocates IPs", evidence)
    return _result(name, True, f"all {len(with_ip)} pod IPs were allocated by Cilium", evidence)


# --------------------------------------------------------------------------------------
# 3. Every pod is managed by Cilium
# --------------------------------------------------------------------------------------


def check_pods_managed(pods: Obj | Sequence[Obj], ciliumendpoints: Obj | Sequence[Obj]) -> CheckResult:
    """Every pod on the pod network has a CiliumEndpoint. One without it started before
    Cilium (or on another CNI) and gets no policy: the recipe restarted such pods by hand."""
    name = "pods-managed-by-cilium"
    ceps = {key_of(e) for e in items(ciliumendpoints)}
    with_ip, waiting = _networked_pods(pods)
    unmanaged = sorted(key_of(p) for p in with_ip if key_of(p) not in ceps)
    evidence = [f"{len(with_ip)} pods on the pod network, {len(with_ip) - len(unmanaged)} with a CiliumEndpoint"]
    if waiting:
        evidence.append(f"{len(waiting)} pod(s) not networked yet (no IP): "
                        + ", ".join(sorted(key_of(p) for p in waiting)))
    if unmanaged:
        evidence += [f"no CiliumEndpoint: {k}  (restart it: kubectl delete pod -n {k.replace('/', ' ')})"
                     for k in unmanaged]
        return _result(name, False, f"{len(unmanaged)} pod(s) are not managed by Cilium", evidence)
    if not with_ip:
        return _result(name, False, "no pod on the pod network yet", evidence)
    return _result(name, True, f"all {len(with_ip)} pods are managed by Cilium", evidence)


# --------------------------------------------------------------------------------------
# 4. Hubble
# --------------------------------------------------------------------------------------


def _deployment_available(check: str, deployments: Obj | Sequence[Obj], name: str, why: str) -> CheckResult:
    d = _find(deployments, name, CILIUM_NAMESPACE)
    if d is None:
        return _result(check, False, f"Deployment {CILIUM_NAMESPACE}/{name} not found ({why})")
    st = d.get("status") or {}
    want = int((d.get("spec") or {}).get("replicas", 1))
    available = int(st.get("availableReplicas") or 0)
    cond = _condition(d, "Available") or {}
    line = (f"Deployment {key_of(d)}: {available}/{want} available, Available={cond.get('status', 'unknown')}"
            + (f" ({cond.get('reason')})" if cond.get("reason") else ""))
    ok = cond.get("status") == "True" and available >= 1
    return _result(check, ok, f"{name} is {'available' if ok else 'not available'}", [line])


def check_hubble(deployments: Obj | Sequence[Obj]) -> CheckResult:
    """Hubble relay and UI are available (the program always enables both)."""
    parts = [_deployment_available("hubble", deployments, n, "the release enables Hubble relay and UI")
             for n in HUBBLE_DEPLOYMENTS]
    evidence = [e for p in parts for e in (p.evidence or (p.summary,))]
    down = [n for n, p in zip(HUBBLE_DEPLOYMENTS, parts, strict=True) if p.failed]
    if down:
        return _result("hubble", False, f"not available: {', '.join(down)}", evidence)
    return _result("hubble", True, "Hubble relay and UI are available", evidence)


# --------------------------------------------------------------------------------------
# 5. The star-wars demo
# --------------------------------------------------------------------------------------


def find_demo_namespaces(namespaces: Obj | Sequence[Obj]) -> list[str]:
    return sorted(name_of(n) for n in items(namespaces) if _has_label(n, demo.NAMESPACE_MARKER))


def decide_demo_stage(namespace: str, policies: Obj | Sequence[Obj]) -> tuple[CheckResult, str | None]:
    """Which policy stage is live in the demo namespace, from its CiliumNetworkPolicy."""
    name = "demo-policy"
    ours = _find(policies, demo.POLICY_NAME)
    others = sorted(name_of(p) for p in items(policies) if name_of(p) != demo.POLICY_NAME)
    stage = demo.stage_of_policy(None if ours is None else ours.get("spec"))
    evidence = [f"CiliumNetworkPolicy {namespace}/{demo.POLICY_NAME}: "
                + ("absent" if ours is None else f"present, stage {stage or 'unknown'}")]
    if others:
        evidence.append(f"other policies in the namespace change the expected answers: {', '.join(others)}")
    if stage is None:
        return _result(name, False, f"{demo.POLICY_NAME} matches no stage (edited by hand?)", evidence), None
    if others:
        return _result(name, False, "the namespace holds policies the demo does not declare", evidence), None
    return _result(name, True, f"stage {stage} is live in {namespace}", evidence), stage


def decide_probe(probe: demo.Probe, stage: str, outcome: CommandOutcome | None) -> CheckResult:
    """What a request answered against what the stage lets through."""
    name = f"demo-{probe.name}"
    expected = demo.EXPECTED[stage].get(probe.name)
    request = f"{probe.method} {probe.path} from {probe.ship.name}"
    if expected is None:
        return CheckResult(name, SKIP, f"{request}: not probed under stage {stage} (only an L7 rule answers it)")
    if outcome is None:
        return _result(name, False, f"{request}: not run")
    answer = (outcome.stdout.strip() or "(empty)").splitlines()[0][:200]
    evidence = [f"$ {' '.join(outcome.args)}",
                "exit: " + ("(kubectl timed out)" if outcome.timed_out else str(outcome.returncode)),
                f"answer: {answer}"]
    if outcome.stderr.strip():
        evidence.append(f"stderr: {outcome.stderr.strip().splitlines()[-1][:200]}")
    if outcome.timed_out:
        return _result(name, False, f"{request}: kubectl exec gave no answer in time (curl never finished)",
                       evidence)
    if expected == "timeout":
        curl_timed_out = outcome.returncode == CURL_TIMED_OUT or f"exit code {CURL_TIMED_OUT}" in outcome.stderr
        if demo.LANDED_ANSWER in outcome.stdout:
            return _result(name, False, f"{request} landed: the {stage} policy is not enforced", evidence)
        return _result(name, curl_timed_out,
                       f"{request} timed out, as the {stage} policy drops it" if curl_timed_out
                       else f"{request} failed without timing out, which proves no policy drop", evidence)
    ok = outcome.returncode == 0 and expected in outcome.stdout
    return _result(name, ok, f"{request} answered {expected!r}" if ok
                   else f"{request} did not answer {expected!r}", evidence)


# --------------------------------------------------------------------------------------
# 6. The cilium CLI
# --------------------------------------------------------------------------------------

_STATUS_LINES = ("Cilium:", "Operator:", "Envoy DaemonSet:", "Hubble Relay:", "ClusterMesh:", "Cluster Pods:",
                 "Errors:", "Warnings:")


def decide_cilium_status(outcome: CommandOutcome | None) -> CheckResult:
    name = "cilium-status"
    if outcome is None:
        return CheckResult(name, SKIP, "the cilium CLI is not on PATH", (INSTALL_CILIUM_CLI,))
    evidence = []
    for line in outcome.stdout.splitlines():
        # the summary lines sit right of an ASCII-art logo: keep them from the label on
        at = min((i for i in (line.find(label) for label in _STATUS_LINES) if i >= 0), default=-1)
        if at >= 0:
            evidence.append(" ".join(line[at:].split()))
    if outcome.timed_out:
        return _result(name, False, "`cilium status --wait` did not finish in time", evidence)
    if outcome.returncode != 0:
        tail = [ln for ln in (outcome.stderr or outcome.stdout).strip().splitlines()[-3:]]
        return _result(name, False, f"`cilium status --wait` failed (exit {outcome.returncode})", evidence + tail)
    return _result(name, True, "`cilium status --wait`: all components OK", evidence)


def decide_connectivity_test(outcome: CommandOutcome | None, requested: bool, cli_present: bool) -> CheckResult:
    name = "cilium-connectivity-test"
    if not requested:
        return CheckResult(name, SKIP, "not requested: add --connectivity-test (creates namespace cilium-test-1, "
                           "takes about 10 minutes)")
    if not cli_present or outcome is None:
        return _result(name, False, "requested, but the cilium CLI is not on PATH", [INSTALL_CILIUM_CLI])
    lines = [ln.strip() for ln in outcome.stdout.splitlines() if ln.strip()]
    # "✅ [ns] All 76 tests (626 actions) successful, ..." or "❌ 1/76 tests failed (2/626 actions), ..."
    summary = [ln for ln in lines if ln.startswith(("✅", "❌")) and " tests " in ln
               and ("successful" in ln or "failed" in ln)]
    failures = [ln for ln in lines if ln.startswith("❌") and ln not in summary]
    evidence = summary[-1:] + failures[:20]
    if outcome.timed_out:
        return _result(name, False, "`cilium connectivity test` did not finish in time", evidence or lines[-3:])
    if outcome.returncode != 0:
        return _result(name, False, f"`cilium connectivity test` failed (exit {outcome.returncode})",
                       evidence or (outcome.stderr.strip().splitlines() or lines)[-3:])
    return _result(name, True, "`cilium connectivity test`: all tests passed", evidence or lines[-1:])


# --------------------------------------------------------------------------------------
# Runner: kubectl under a per-check deadline
# --------------------------------------------------------------------------------------


class CheckTimeout(Exception):
    pass


class KubectlError(Exception):
    pass


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass
class Deadline:
    seconds: float
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        left = self.seconds - (time.monotonic() - self.start)
        if left <= 0:
            raise CheckTimeout(f"no answer within {self.seconds:g}s")
        return left


def run_command(args: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
                run: Runner = subprocess.run) -> CommandOutcome:
    try:
        proc = run(list(args), capture_output=True, text=True, timeout=timeout,
                   env=None if env is None else dict(env), check=False)
    except subprocess.TimeoutExpired as exc:
        def text(v: Any) -> str:
            return v.decode(errors="replace") if isinstance(v, bytes) else (v or "")
        return CommandOutcome(tuple(args), None, text(exc.stdout), text(exc.stderr))
    return CommandOutcome(tuple(args), proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Kubectl:
    binary: str
    kubeconfig: str | None = None
    context: str | None = None
    run: Runner = subprocess.run
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def base(self) -> list[str]:
        out = [self.binary]
        if self.kubeconfig:
            out += ["--kubeconfig", self.kubeconfig]
        if self.context:
            out += ["--context", self.context]
        return out

    def get(self, deadline: Deadline, resource: str, *, namespace: str | None = None,
            all_namespaces: bool = False, selector: str | None = None) -> Any:
        args = ["get", resource, "-o", "json"]
        if all_namespaces:
            args.append("--all-namespaces")
        elif namespace:
            args += ["--namespace", namespace]
        if selector:
            args += ["--selector", selector]
        key = tuple(args)
        if key not in self._cache:
            outcome = run_command(self.base() + args, deadline.remaining(), run=self.run)
            if outcome.timed_out:
                raise CheckTimeout(f"`kubectl {' '.join(args)}` gave no answer within {deadline.seconds:g}s")
            if outcome.returncode != 0:
                # kubectl's last line is the conclusion; client-go's retries above it are noise
                said = (outcome.stderr.strip() or outcome.stdout.strip() or "no output").splitlines()[-1]
                raise KubectlError(f"`kubectl {' '.join(args)}` failed (exit {outcome.returncode}): {said[:300]}")
            self._cache[key] = json.loads(outcome.stdout)
        return self._cache[key]

    def exec(self, deadline: Deadline, namespace: str, pod: str, container: str,
             command: Sequence[str]) -> CommandOutcome:
        args = [*self.base(), "exec", "--namespace", namespace, pod, "--container", container, "--", *command]
        outcome = run_command(args, deadline.remaining(), run=self.run)
        # reported as a person would rerun it (without this run's temporary kubeconfig)
        shown = ("kubectl", "exec", "-n", namespace, pod, "--", *command)
        return CommandOutcome(shown, outcome.returncode, outcome.stdout, outcome.stderr)


@dataclass(frozen=True)
class Options:
    timeout: float = 60
    connectivity_test: bool = False
    connectivity_timeout: float = 1800
    demo_namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None


def _guarded(name: str, timeout: float, body: Callable[[Deadline], CheckResult | list[CheckResult]]
             ) -> list[CheckResult]:
    deadline = Deadline(timeout)
    try:
        out = body(deadline)
    except CheckTimeout as exc:
        return [CheckResult(name, FAIL, f"timed out: {exc}")]
    except KubectlError as exc:
        return [CheckResult(name, FAIL, "could not read the cluster", (str(exc),))]
    return out if isinstance(out, list) else [out]


def probe_max_time(timeout: float) -> int:
    """curl's --max-time: long enough for a real answer, short enough that three probes (one
    of which must time out) fit in one check's timeout."""
    return int(max(3, min(10, timeout // 4)))


def run_checks(k: Kubectl, opts: Options, which: Callable[[str], str | None] = shutil.which,
               run: Runner = subprocess.run) -> list[CheckResult]:
    t = opts.timeout
    results: list[CheckResult] = []

    reach = _guarded("api-server", t, lambda d: _result(
        "api-server", True, "the Kubernetes API answers",
        [f"{len(items(k.get(d, 'nodes')))} node(s)"]))
    results += reach
    if reach[0].failed:
        return [*results, CheckResult("(all other checks)", SKIP, "the cluster cannot be read")]

    def all_pods(d: Deadline) -> Any:
        return k.get(d, "pods", all_namespaces=True)

    def system(d: Deadline, kind: str) -> Any:
        return k.get(d, kind, namespace=CILIUM_NAMESPACE)

    results += _guarded("cilium-agent", t, lambda d: check_cilium_agent(
        k.get(d, "nodes"), system(d, "daemonsets"), all_pods(d)))
    results += _guarded("cilium-envoy", t, lambda d: check_cilium_envoy(k.get(d, "nodes"), system(d, "daemonsets")))
    results += _guarded("cilium-operator", t, lambda d: check_cilium_operator(system(d, "deployments")))
    results += _guarded("agent-not-ready-taint", t, lambda d: check_agent_taint(k.get(d, "nodes")))
    results += _guarded("aws-node-not-scheduled", t, lambda d: check_aws_node(system(d, "daemonsets"), all_pods(d)))
    results += _guarded("pod-ips-from-cilium", t, lambda d: check_pod_ips_from_cilium(
        all_pods(d), k.get(d, "ciliumnodes.cilium.io"), k.get(d, "ciliumendpoints.cilium.io", all_namespaces=True)))
    results += _guarded("pods-managed-by-cilium", t, lambda d: check_pods_managed(
        all_pods(d), k.get(d, "ciliumendpoints.cilium.io", all_namespaces=True)))
    results += _guarded("hubble", t, lambda d: check_hubble(system(d, "deployments")))
    results += _guarded("demo", t, lambda d: _demo_checks(k, d, opts))

    cilium = which("cilium")
    env = dict(os.environ)
    if opts.kubeconfig:
        env["KUBECONFIG"] = opts.kubeconfig
    ctx = ["--context", opts.context] if opts.context else []
    status = None
    if cilium is not None:
        wait = max(int(t) - 5, 5)
        status = run_command([cilium, "status", "--wait", "--wait-duration", f"{wait}s", *ctx], t, env, run)
    results.append(decide_cilium_status(status))
    test = None
    if cilium is not None and opts.connectivity_test:
        test = run_command([cilium, "connectivity", "test", *ctx], opts.connectivity_timeout, env, run)
    results.append(decide_connectivity_test(test, opts.connectivity_test, cilium is not None))
    return results


def _demo_checks(k: Kubectl, d: Deadline, opts: Options) -> list[CheckResult]:
    if opts.demo_namespace:
        found = [opts.demo_namespace]
    else:
        label = "=".join(demo.NAMESPACE_MARKER)
        found = find_demo_namespaces(k.get(d, "namespaces", selector=label))
        if not found:
            return [CheckResult("demo", SKIP, f"the demo is off (demoEnabled false): no namespace labelled {label}")]
        if len(found) > 1:
            return [CheckResult("demo", FAIL, f"several demo namespaces ({', '.join(found)}): pick one with "
                                "--demo-namespace")]
    ns = found[0]
    stage_result, stage = decide_demo_stage(ns, k.get(d, "ciliumnetworkpolicies.cilium.io", namespace=ns))
    out = [stage_result]
    if stage is None:
        return out
    max_time = probe_max_time(opts.timeout)
    for probe in demo.PROBES:
        outcome = None
        if probe.name in demo.EXPECTED[stage]:
            try:
                outcome = k.exec(d, ns, probe.ship.name, demo.SPACESHIP_CONTAINER, probe.curl(ns, max_time))
            except CheckTimeout as exc:
                out.append(CheckResult(f"demo-{probe.name}", FAIL, f"not run: the demo check {exc}"))
                continue
        out.append(decide_probe(probe, stage, outcome))
    return out


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def report(results: Sequence[CheckResult], out: TextIO) -> int:
    width = max((len(r.name) for r in results), default=0)
    for r in results:
        print(f"{r.status}  {r.name.ljust(width)}  {r.summary}", file=out)
        for e in r.evidence:
            print(f"{'':{6 + width}}  · {e}", file=out)
    failed = sum(r.failed for r in results)
    passed = sum(r.status == PASS for r in results)
    skipped = sum(r.status == SKIP for r in results)
    print(f"\nverify: {passed} passed, {failed} failed, {skipped} skipped", file=out)
    return EXIT_FAILED if failed else EXIT_OK


def stack_kubeconfig(stack: str, which: Callable[[str], str | None] = shutil.which,
                     run: Runner = subprocess.run, cwd: Path | None = None) -> str:
    """The stack's kubeconfig (a secret output), from the Pulumi CLI."""
    pulumi = which("pulumi")
    if pulumi is None:
        raise RuntimeError(f"--stack needs the Pulumi CLI, which is not on PATH: {INSTALL_PULUMI}")
    try:
        proc = run([pulumi, "stack", "output", "kubeconfig", "--show-secrets", "--stack", stack],
                   capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`pulumi stack output kubeconfig --stack {stack}` did not answer in 120s") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"could not read output `kubeconfig` of stack {stack!r} "
                           f"(has `pulumi up` run?): {proc.stderr.strip()[:400]}")
    return proc.stdout


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tooling.verify", allow_abbrev=False,
                                description="Check a running cluster the way the manual recipe did.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--stack", help="read the kubeconfig from this stack's outputs (needs the Pulumi CLI)")
    src.add_argument("--kubeconfig", help="a kubeconfig file (default: kubectl's own: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--timeout", type=float, default=60, help="seconds each check may take (default 60)")
    p.add_argument("--connectivity-test", action="store_true",
                   help="also run `cilium connectivity test` (needs the cilium CLI)")
    p.add_argument("--connectivity-timeout", type=float, default=1800,
                   help="seconds `cilium connectivity test` may take (default 1800)")
    p.add_argument("--demo-namespace", help="namespace of the star-wars demo (default: found by its label)")
    return p


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         which: Callable[[str], str | None] = shutil.which, run: Runner = subprocess.run) -> int:
    stdout: TextIO = out or sys.stdout
    stderr: TextIO = err or sys.stderr
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return EXIT_CANNOT_RUN if exc.code else EXIT_OK
    if args.timeout <= 0:
        print("verify: --timeout must be a positive number of seconds", file=stderr)
        return EXIT_CANNOT_RUN
    kubectl = which("kubectl")
    if kubectl is None:
        print(INSTALL_KUBECTL, file=stderr)
        return EXIT_CANNOT_RUN

    with tempfile.TemporaryDirectory(prefix="cilium-eks-verify-") as tmp:
        kubeconfig = args.kubeconfig
        if args.stack:
            try:
                content = stack_kubeconfig(args.stack, which, run, cwd=Path(__file__).resolve().parent.parent)
            except RuntimeError as exc:
                print(f"verify: {exc}", file=stderr)
                return EXIT_CANNOT_RUN
            path = Path(tmp) / "kubeconfig"
            path.touch(mode=0o600)  # it holds the cluster's credentials (exec) and endpoint
            path.write_text(content)
            kubeconfig = str(path)
        elif kubeconfig and not Path(kubeconfig).is_file():
            print(f"verify: --kubeconfig {kubeconfig}: no such file", file=stderr)
            return EXIT_CANNOT_RUN
        opts = Options(timeout=args.timeout, connectivity_test=args.connectivity_test,
                       connectivity_timeout=args.connectivity_timeout, demo_namespace=args.demo_namespace,
                       kubeconfig=kubeconfig, context=args.context)
        target = f"stack {args.stack}" if args.stack else (kubeconfig or "kubectl's default kubeconfig")
        print(f"verify: {target}{f', context {args.context}' if args.context else ''}, "
              f"{args.timeout:g}s per check", file=stdout)
        results = run_checks(Kubectl(kubectl, kubeconfig, args.context, run), opts, which, run)
        return report(results, stdout)


if __name__ == "__main__":
    sys.exit(main())
