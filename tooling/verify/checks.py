"""The checks, as pure functions: each ``check_*`` / ``decide_*`` takes what the API returns
(``kubectl get -o json``: a ``List`` or its ``items``) or a command's outcome, and returns a
:class:`~tooling.verify.results.CheckResult`. Nothing here runs a command.

How "no pod got its IP from the VPC CNI" is decided (check ``pod-ips-from-cilium``). In ENI
mode Cilium and the VPC CNI both hand out secondary IPs of ENIs in the VPC, so an IP's range
proves nothing, and cilium-operator may even adopt ENIs that aws-node attached. What does
prove it is Cilium's own book-keeping, which changed in 1.20:

* Cilium 1.20 runs ENI IPAM on the multi-pool allocator. The agent publishes the CIDRs it may
  allocate from (each secondary IP as a /32, each delegated prefix as a /28) in its node's
  CiliumNode ``spec.ipam.pools.allocated`` and allocates pod IPs locally, without a per-IP
  ``status.ipam.used`` entry (Documentation/network/concepts/ipam/eni.rst). So a pod's IP is
  Cilium's iff it lies in those CIDRs and the pod's CiliumEndpoint holds it. A node that first
  ran 1.19 may keep a stale ``used`` map; it is ignored once pools are present.
* Agents of 1.19 and older book each allocation with the owner ``<namespace>/<pod>`` under
  ``status.ipam.used[<ip>].owner``: the IP is Cilium's iff that entry names this very pod.
* A CiliumNode with neither: the fallback evidence is the pod's CiliumEndpoint listing the IP.

A VPC CNI annotation on the pod (``vpc.amazonaws.com/pod-ips``, ``vpc.amazonaws.com/pod-eni``)
fails the pod outright.
Host-networked pods are excluded: their IP is the node's.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence

from cilium_eks import demo
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.cilium import NAMESPACE as CILIUM_NAMESPACE
from cilium_eks.karpenter import NODEPOOL_LABEL

from .objects import (
    Obj,
    cilium_nodes,
    condition,
    ds_counts,
    ds_line,
    find_object,
    has_label,
    items,
    key_of,
    meta,
    name_of,
    networked_pods,
    pod_ready,
    rollout_done,
)
from .results import SKIP, CheckResult, CommandOutcome, result

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

INSTALL_CILIUM_CLI = (
    "install the cilium CLI (https://docs.cilium.io/en/stable/gettingstarted/k8s-install-default/"
    "#install-the-cilium-cli): macOS `brew install cilium-cli`; Linux "
    "`CLI=$(curl -s https://raw.githubusercontent.com/cilium/cilium-cli/main/stable.txt); "
    "curl -L --fail --remote-name-all https://github.com/cilium/cilium-cli/releases/download/$CLI/"
    "cilium-linux-amd64.tar.gz && sudo tar xzf cilium-linux-amd64.tar.gz -C /usr/local/bin`"
)


# --------------------------------------------------------------------------------------
# 1. Cilium agent, envoy, operator, taint
# --------------------------------------------------------------------------------------


def check_cilium_agent(nodes: Obj | Sequence[Obj], daemonsets: Obj | Sequence[Obj],
                       pods: Obj | Sequence[Obj]) -> CheckResult:
    """The agent DaemonSet is fully rolled out and ready, with a ready agent pod on every node."""
    name = "cilium-agent"
    ds = find_object(daemonsets, AGENT_DAEMONSET, CILIUM_NAMESPACE)
    if ds is None:
        return result(name, False, f"DaemonSet {CILIUM_NAMESPACE}/{AGENT_DAEMONSET} not found: Cilium is not "
                       "installed (check the Helm release)")
    expected = cilium_nodes(nodes)
    ready_on = {(p.get("spec") or {}).get("nodeName") for p in items(pods)
                if has_label(p, AGENT_POD_LABEL) and meta(p).get("namespace") == CILIUM_NAMESPACE and pod_ready(p)}
    missing = sorted(name_of(n) for n in expected if name_of(n) not in ready_on)
    c = ds_counts(ds)
    evidence = [ds_line(ds), f"nodes that need an agent: {len(expected)}"]
    problems = []
    if not expected:
        problems.append("no node: nothing runs yet (are the node groups up?)")
    if c["numberReady"] < c["desiredNumberScheduled"] or c["numberAvailable"] < c["desiredNumberScheduled"]:
        problems.append(f"only {c['numberReady']} of {c['desiredNumberScheduled']} agents ready")
    if c["updatedNumberScheduled"] < c["desiredNumberScheduled"] or not rollout_done(ds):
        problems.append("a rollout is still in progress")
    if c["desiredNumberScheduled"] < len(expected):
        problems.append(f"the DaemonSet targets {c['desiredNumberScheduled']} of {len(expected)} nodes")
    if missing:
        problems.append(f"no ready agent pod on: {', '.join(missing)}")
    evidence += problems
    if problems:
        return result(name, False, "the Cilium agent is not ready on every node", evidence)
    return result(name, True, f"agent ready on {len(expected)}/{len(expected)} nodes", evidence)


def check_cilium_envoy(nodes: Obj | Sequence[Obj], daemonsets: Obj | Sequence[Obj]) -> CheckResult:
    """The standalone Envoy DaemonSet (default since 1.16) enforces L7 rules: ready everywhere."""
    name = "cilium-envoy"
    ds = find_object(daemonsets, ENVOY_DAEMONSET, CILIUM_NAMESPACE)
    if ds is None:
        return CheckResult(name, SKIP, f"no DaemonSet {CILIUM_NAMESPACE}/{ENVOY_DAEMONSET}: Envoy runs inside the "
                           "agent (envoy.enabled=false), covered by cilium-agent")
    c = ds_counts(ds)
    expected = len(cilium_nodes(nodes))
    ok = (c["numberReady"] == c["desiredNumberScheduled"] >= expected > 0
          and c["updatedNumberScheduled"] >= c["desiredNumberScheduled"] and rollout_done(ds))
    return result(name, ok, f"Envoy ready on {c['numberReady']}/{expected} nodes", [ds_line(ds)])


def check_cilium_operator(deployments: Obj | Sequence[Obj]) -> CheckResult:
    return _deployment_available("cilium-operator", deployments, OPERATOR_DEPLOYMENT,
                                 "it manages the pod ENIs and registers the CRDs")


def check_agent_taint(nodes: Obj | Sequence[Obj]) -> CheckResult:
    """Every managed node started with node.cilium.io/agent-not-ready; cilium-operator removes it
    once the node's agent is ready (``operator.removeNodeTaints``). A managed node still carrying it
    after `pulumi up` has no working Cilium. Karpenter's nodes join at any time, so a young one may
    still be tainted: they are left to ``agent-not-ready-age``, which allows them a few minutes."""
    name = "agent-not-ready-taint"
    all_nodes = [n for n in items(nodes) if NODEPOOL_LABEL not in (meta(n).get("labels") or {})]
    if not all_nodes:
        return result(name, False, "no managed node in the cluster: nothing shows the taint was removed")
    tainted = sorted(name_of(n) for n in all_nodes
                     if any(t.get("key") == TAINT_KEY for t in (n.get("spec") or {}).get("taints") or []))
    if tainted:
        return result(name, False, f"{len(tainted)} of {len(all_nodes)} managed nodes still carry {TAINT_KEY}",
                       [f"tainted: {n}" for n in tainted])
    return result(name, True, f"none of {len(all_nodes)} managed nodes carries {TAINT_KEY}",
                   [f"nodes: {', '.join(sorted(name_of(n) for n in all_nodes))}"])


# --------------------------------------------------------------------------------------
# 2. The AWS VPC CNI is out of the way
# --------------------------------------------------------------------------------------


def check_aws_node(daemonsets: Obj | Sequence[Obj], pods: Obj | Sequence[Obj]) -> CheckResult:
    """aws-node is deleted, or kept with a nodeSelector no node matches; no pod of it exists."""
    name = "aws-node-not-scheduled"
    ds = find_object(daemonsets, AWS_NODE_DAEMONSET, CILIUM_NAMESPACE)
    leftover = sorted(f"{key_of(p)} on {(p.get('spec') or {}).get('nodeName', '?')}" for p in items(pods)
                      if has_label(p, AWS_NODE_POD_LABEL) and meta(p).get("namespace") == CILIUM_NAMESPACE)
    evidence: list[str] = []
    if ds is None:
        evidence.append(f"DaemonSet {CILIUM_NAMESPACE}/{AWS_NODE_DAEMONSET} does not exist (deleted)")
        scheduled = 0
    else:
        c = ds_counts(ds)
        selector = ((ds.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
        evidence.append(ds_line(ds) + f", nodeSelector {json.dumps(selector, sort_keys=True)}")
        scheduled = max(c["desiredNumberScheduled"], c["currentNumberScheduled"], c["numberReady"])
    evidence += [f"aws-node pod: {p}" for p in leftover]
    if scheduled or leftover:
        return result(name, False, f"aws-node is scheduled on {scheduled} node(s), {len(leftover)} pod(s) exist",
                       evidence)
    return result(name, True, "aws-node runs nowhere" if ds is not None else "aws-node is deleted", evidence)


def allocated_cidrs(ciliumnode: Obj) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """The CIDRs Cilium 1.20+ allocates pod IPs from on a node (``spec.ipam.pools.allocated``: each
    secondary IP as a /32, each delegated prefix as its /28), or None for a node without pools
    (an agent of 1.19 or older, which books pods in ``status.ipam.used`` instead)."""
    pools = (((ciliumnode.get("spec") or {}).get("ipam") or {}).get("pools") or {}).get("allocated")
    if not pools:
        return None
    out = []
    for pool in pools:
        for cidr in pool.get("cidrs") or []:
            try:
                out.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
    return out


def check_pod_ips_from_cilium(pods: Obj | Sequence[Obj], ciliumnodes: Obj | Sequence[Obj],
                              ciliumendpoints: Obj | Sequence[Obj]) -> CheckResult:
    """Every pod-network IP was allocated by Cilium to that pod (see the module docstring).

    Cilium 1.20 runs ENI IPAM on the multi-pool allocator: the agent allocates out of the CIDRs
    in ``spec.ipam.pools.allocated`` and "does not write a per-IP entry to status.ipam.used"
    (Documentation/network/concepts/ipam/eni.rst). So on a node with pools the IP must lie in
    one of its allocated CIDRs and the pod's CiliumEndpoint must hold it; a ``used`` map there is
    stale (left by 1.19) and ignored. A node without pools is checked the 1.19 way, by the owner
    in ``status.ipam.used``."""
    name = "pod-ips-from-cilium"
    cnodes = {name_of(cn): cn for cn in items(ciliumnodes)}
    ceps = {key_of(e): e for e in items(ciliumendpoints)}
    with_ip, _ = networked_pods(pods)
    bad: list[str] = []
    by_pools = by_ipam = by_cep = 0
    for p in with_ip:
        ip = p["status"]["podIP"]
        where = f"{key_of(p)} ({ip})"
        annotations = meta(p).get("annotations") or {}
        vpc_cni = [a for a in VPC_CNI_POD_ANNOTATIONS if a in annotations]
        if vpc_cni:
            bad.append(f"{where}: annotated by the VPC CNI ({', '.join(vpc_cni)})")
            continue
        node = (p.get("spec") or {}).get("nodeName", "")
        cn = cnodes.get(node)
        if cn is None:
            bad.append(f"{where}: no CiliumNode for node {node!r}, so Cilium allocates nothing there")
            continue
        cep_ips = {a.get("ipv4") for a in (((ceps.get(key_of(p)) or {}).get("status") or {})
                                            .get("networking") or {}).get("addressing") or []}
        pools = allocated_cidrs(cn)
        if pools is not None:
            if not any(ipaddress.ip_address(ip) in net for net in pools):
                bad.append(f"{where}: not in CiliumNode {node} spec.ipam.pools.allocated, so not allocated by Cilium")
            elif ip not in cep_ips:
                bad.append(f"{where}: in CiliumNode {node}'s pool, but no CiliumEndpoint of this pod holds it")
            else:
                by_pools += 1
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
        if ip in cep_ips:
            by_cep += 1
        else:
            bad.append(f"{where}: CiliumNode {node} publishes no IPAM usage and no CiliumEndpoint lists this IP")
    evidence = [f"{len(with_ip)} pods on the pod network: {by_pools} in their node's Cilium pool "
                f"(spec.ipam.pools.allocated) and held by their CiliumEndpoint, {by_ipam} found in CiliumNode "
                f"status.ipam.used with the pod as owner (agents of 1.19 or older), {by_cep} by their CiliumEndpoint"]
    if bad:
        return result(name, False, f"{len(bad)} pod IP(s) did not come from Cilium's IPAM", evidence + bad)
    if not with_ip:
        return result(name, False, "no pod on the pod network yet: nothing shows Cilium allocates IPs", evidence)
    return result(name, True, f"all {len(with_ip)} pod IPs were allocated by Cilium", evidence)


# --------------------------------------------------------------------------------------
# 3. Every pod is managed by Cilium
# --------------------------------------------------------------------------------------


def check_pods_managed(pods: Obj | Sequence[Obj], ciliumendpoints: Obj | Sequence[Obj]) -> CheckResult:
    """Every pod on the pod network has a CiliumEndpoint. One without it started before
    Cilium (or on another CNI) and gets no policy: the recipe restarted such pods by hand."""
    name = "pods-managed-by-cilium"
    ceps = {key_of(e) for e in items(ciliumendpoints)}
    with_ip, waiting = networked_pods(pods)
    unmanaged = sorted(key_of(p) for p in with_ip if key_of(p) not in ceps)
    evidence = [f"{len(with_ip)} pods on the pod network, {len(with_ip) - len(unmanaged)} with a CiliumEndpoint"]
    if waiting:
        evidence.append(f"{len(waiting)} pod(s) not networked yet (no IP): "
                        + ", ".join(sorted(key_of(p) for p in waiting)))
    if unmanaged:
        evidence += [f"no CiliumEndpoint: {k}  (restart it: kubectl delete pod -n {k.replace('/', ' ')})"
                     for k in unmanaged]
        return result(name, False, f"{len(unmanaged)} pod(s) are not managed by Cilium", evidence)
    if not with_ip:
        return result(name, False, "no pod on the pod network yet", evidence)
    return result(name, True, f"all {len(with_ip)} pods are managed by Cilium", evidence)


# --------------------------------------------------------------------------------------
# 4. Hubble
# --------------------------------------------------------------------------------------


def _deployment_available(check: str, deployments: Obj | Sequence[Obj], name: str, why: str) -> CheckResult:
    d = find_object(deployments, name, CILIUM_NAMESPACE)
    if d is None:
        return result(check, False, f"Deployment {CILIUM_NAMESPACE}/{name} not found ({why})")
    st = d.get("status") or {}
    want = int((d.get("spec") or {}).get("replicas", 1))
    available = int(st.get("availableReplicas") or 0)
    cond = condition(d, "Available") or {}
    line = (f"Deployment {key_of(d)}: {available}/{want} available, Available={cond.get('status', 'unknown')}"
            + (f" ({cond.get('reason')})" if cond.get("reason") else ""))
    ok = cond.get("status") == "True" and available >= 1
    return result(check, ok, f"{name} is {'available' if ok else 'not available'}", [line])


def check_hubble(deployments: Obj | Sequence[Obj]) -> CheckResult:
    """Hubble relay and UI are available (the program always enables both)."""
    parts = [_deployment_available("hubble", deployments, n, "the release enables Hubble relay and UI")
             for n in HUBBLE_DEPLOYMENTS]
    evidence = [e for p in parts for e in (p.evidence or (p.summary,))]
    down = [n for n, p in zip(HUBBLE_DEPLOYMENTS, parts, strict=True) if p.failed]
    if down:
        return result("hubble", False, f"not available: {', '.join(down)}", evidence)
    return result("hubble", True, "Hubble relay and UI are available", evidence)


# --------------------------------------------------------------------------------------
# 5. The star-wars demo
# --------------------------------------------------------------------------------------


def find_demo_namespaces(namespaces: Obj | Sequence[Obj]) -> list[str]:
    return sorted(name_of(n) for n in items(namespaces) if has_label(n, demo.NAMESPACE_MARKER))


def decide_demo_stage(namespace: str, policies: Obj | Sequence[Obj]) -> tuple[CheckResult, str | None]:
    """Which policy stage is live in the demo namespace, from its CiliumNetworkPolicy."""
    name = "demo-policy"
    ours = find_object(policies, demo.POLICY_NAME)
    others = sorted(name_of(p) for p in items(policies) if name_of(p) != demo.POLICY_NAME)
    stage = demo.stage_of_policy(None if ours is None else ours.get("spec"))
    evidence = [f"CiliumNetworkPolicy {namespace}/{demo.POLICY_NAME}: "
                + ("absent" if ours is None else f"present, stage {stage or 'unknown'}")]
    if others:
        evidence.append(f"other policies in the namespace change the expected answers: {', '.join(others)}")
    if stage is None:
        return result(name, False, f"{demo.POLICY_NAME} matches no stage (edited by hand?)", evidence), None
    if others:
        return result(name, False, "the namespace holds policies the demo does not declare", evidence), None
    return result(name, True, f"stage {stage} is live in {namespace}", evidence), stage


def decide_probe(probe: demo.Probe, stage: str, outcome: CommandOutcome | None) -> CheckResult:
    """What a request answered against what the stage lets through."""
    name = f"demo-{probe.name}"
    expected = demo.EXPECTED[stage].get(probe.name)
    request = f"{probe.method} {probe.path} from {probe.ship.name}"
    if expected is None:
        return CheckResult(name, SKIP, f"{request}: not probed under stage {stage} (only an L7 rule answers it)")
    if outcome is None:
        return result(name, False, f"{request}: not run")
    answer = (outcome.stdout.strip() or "(empty)").splitlines()[0][:200]
    evidence = [f"$ {' '.join(outcome.args)}",
                "exit: " + ("(kubectl timed out)" if outcome.timed_out else str(outcome.returncode)),
                f"answer: {answer}"]
    if outcome.stderr.strip():
        evidence.append(f"stderr: {outcome.stderr.strip().splitlines()[-1][:200]}")
    if outcome.timed_out:
        return result(name, False, f"{request}: kubectl exec gave no answer in time (curl never finished)",
                       evidence)
    if expected == "timeout":
        curl_timed_out = outcome.returncode == CURL_TIMED_OUT or f"exit code {CURL_TIMED_OUT}" in outcome.stderr
        if demo.LANDED_ANSWER in outcome.stdout:
            return result(name, False, f"{request} landed: the {stage} policy is not enforced", evidence)
        return result(name, curl_timed_out,
                       f"{request} timed out, as the {stage} policy drops it" if curl_timed_out
                       else f"{request} failed without timing out, which proves no policy drop", evidence)
    ok = outcome.returncode == 0 and expected in outcome.stdout
    return result(name, ok, f"{request} answered {expected!r}" if ok
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
        return result(name, False, "`cilium status --wait` did not finish in time", evidence)
    if outcome.returncode != 0:
        tail = [ln for ln in (outcome.stderr or outcome.stdout).strip().splitlines()[-3:]]
        return result(name, False, f"`cilium status --wait` failed (exit {outcome.returncode})", evidence + tail)
    return result(name, True, "`cilium status --wait`: all components OK", evidence)


def decide_connectivity_test(outcome: CommandOutcome | None, requested: bool, cli_present: bool) -> CheckResult:
    name = "cilium-connectivity-test"
    if not requested:
        return CheckResult(name, SKIP, "not requested: add --connectivity-test (creates namespace cilium-test-1, "
                           "takes about 10 minutes)")
    if not cli_present or outcome is None:
        return result(name, False, "requested, but the cilium CLI is not on PATH", [INSTALL_CILIUM_CLI])
    lines = [ln.strip() for ln in outcome.stdout.splitlines() if ln.strip()]
    # "✅ [ns] All 76 tests (626 actions) successful, ..." or "❌ 1/76 tests failed (2/626 actions), ..."
    summary = [ln for ln in lines if ln.startswith(("✅", "❌")) and " tests " in ln
               and ("successful" in ln or "failed" in ln)]
    failures = [ln for ln in lines if ln.startswith("❌") and ln not in summary]
    evidence = summary[-1:] + failures[:20]
    if outcome.timed_out:
        return result(name, False, "`cilium connectivity test` did not finish in time", evidence or lines[-3:])
    if outcome.returncode != 0:
        return result(name, False, f"`cilium connectivity test` failed (exit {outcome.returncode})",
                       evidence or (outcome.stderr.strip().splitlines() or lines)[-3:])
    return result(name, True, "`cilium connectivity test`: all tests passed", evidence or lines[-1:])
