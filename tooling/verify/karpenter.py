"""Karpenter on the live cluster, as pure decisions over ``kubectl get -o json``: the controller is
ready, every NodePool is Ready and declares Cilium's startup taint, and no node keeps Cilium's
agent-not-ready taint for long (a node whose agent never came up: Karpenter would keep it, and pods
bound to it, forever).

All of it SKIPs when Karpenter is not installed (no controller Deployment), so a stack without it
passes ``verify`` as before. Facts: the chart labels the controller's Deployment
``app.kubernetes.io/name: karpenter`` (chart ``templates/_helpers.tpl`` 51-54, selectorLabels); a
NodePool's ``status.conditions`` carry ``Ready``, true once ``ValidationSucceeded``, ``NodeClassReady``
and ``NodeRegistrationHealthy`` are (kubernetes-sigs/karpenter v1.14.1 ``pkg/apis/v1/nodepool_status.go``
25-31, 58-61, ``status.NewReadyConditions``); the API server stamps ``timeAdded`` on NoExecute taints
only (``core/v1`` ``Taint.TimeAdded``), so a node's ``creationTimestamp`` stands in when it is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cilium_eks.karpenter import CONTROLLER_SELECTOR, NODEPOOL_LABEL, STARTUP_TAINT, carries_startup_taint

from .kubectl import Deadline, Kubectl
from .objects import Obj, condition, items, key_of, meta, name_of
from .results import SKIP, CheckResult, result

#: A node's Cilium agent is normally ready within a minute or two; after this long something is wrong.
STUCK_TAINT_MINUTES = 10
SELECTOR = "=".join(CONTROLLER_SELECTOR)
NOT_INSTALLED = f"Karpenter is not installed (no Deployment labelled {SELECTOR})"


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def check_karpenter_controller(deployments: Obj | Sequence[Obj]) -> CheckResult:
    """The controller Deployment has every replica ready, available and up to date."""
    name = "karpenter-controller"
    found = [d for d in items(deployments)
             if (meta(d).get("labels") or {}).get(CONTROLLER_SELECTOR[0]) == CONTROLLER_SELECTOR[1]]
    if not found:
        return CheckResult(name, SKIP, NOT_INSTALLED)
    problems, evidence = [], []
    for d in found:
        want = int((d.get("spec") or {}).get("replicas", 1))
        st = d.get("status") or {}
        ready, available, updated = (int(st.get(k) or 0) for k in ("readyReplicas", "availableReplicas",
                                                                     "updatedReplicas"))
        evidence.append(f"Deployment {key_of(d)}: {ready}/{want} ready, {available} available, {updated} up to date")
        if want < 1 or ready < want or available < want or updated < want:
            problems.append(f"{key_of(d)}: {ready} of {want} replicas ready")
    if problems:
        return result(name, False, "the Karpenter controller is not ready: pending pods get no node",
                      problems + evidence)
    return result(name, True, "the Karpenter controller is ready", evidence)


def check_nodepools_ready(nodepools: Obj | Sequence[Obj]) -> CheckResult:
    """Every NodePool's Ready condition is True (its EC2NodeClass resolved AMI, subnets, security groups)."""
    name = "karpenter-nodepools-ready"
    pools = items(nodepools)
    if not pools:
        return result(name, False, "Karpenter runs but no NodePool exists: it never launches a node")
    bad, evidence = [], []
    for p in pools:
        ready = condition(p, "Ready")
        status = ready.get("status") if ready else "unknown"
        why = f" ({ready.get('reason')}: {ready.get('message')})" if ready and status != "True" else ""
        evidence.append(f"NodePool {name_of(p)}: Ready {status}{why}")
        if status != "True":
            bad.append(f"{name_of(p)} is not Ready{why}")
    if bad:
        return result(name, False, f"{len(bad)} of {len(pools)} NodePools are not Ready", bad + evidence)
    return result(name, True, f"{len(pools)} NodePool(s) Ready", evidence)


def check_nodepool_startup_taints(nodepools: Obj | Sequence[Obj]) -> CheckResult:
    """Every NodePool declares Cilium's taint as a startup taint, with its key and effect."""
    name = "karpenter-startup-taint"
    pools = items(nodepools)
    if not pools:
        return CheckResult(name, SKIP, "no NodePool to check")
    taint = f"{STARTUP_TAINT['key']}:{STARTUP_TAINT['effect']}"
    missing = sorted(name_of(p) for p in pools if not carries_startup_taint(p))
    if missing:
        return result(name, False, f"{len(missing)} NodePool(s) without the startup taint {taint}: Karpenter launches "
                      "duplicate nodes while Cilium's agent starts", [f"missing on: {', '.join(missing)}"])
    return result(name, True, f"every NodePool declares {taint} as a startup taint",
                  [f"NodePools: {', '.join(sorted(name_of(p) for p in pools))}"])


def check_agent_taint_age(nodes: Obj | Sequence[Obj], now: datetime,
                          minutes: float = STUCK_TAINT_MINUTES) -> CheckResult:
    """No node has carried Cilium's agent-not-ready taint for more than ``minutes`` (since the taint's
    ``timeAdded``, else the node's creation). Younger tainted nodes are evidence, not a failure: Karpenter
    launches nodes at any time, and each carries the taint until its agent is ready."""
    name = "agent-not-ready-age"
    stuck, young = [], []
    for n in items(nodes):
        for t in (n.get("spec") or {}).get("taints") or []:
            if t.get("key") != STARTUP_TAINT["key"]:
                continue
            since = _time(t.get("timeAdded")) or _time(meta(n).get("creationTimestamp"))
            pool = (meta(n).get("labels") or {}).get(NODEPOOL_LABEL)
            who = f"{name_of(n)}{f' (NodePool {pool})' if pool else ''}"
            if since is None:
                stuck.append(f"{who}: tainted since an unknown time")
                continue
            age = now - since
            line = f"{who}: tainted for {int(age.total_seconds() // 60)} min"
            (stuck if age > timedelta(minutes=minutes) else young).append(line)
    if stuck:
        return result(name, False, f"{len(stuck)} node(s) kept {STARTUP_TAINT['key']} for more than {minutes:g} min: "
                      "their Cilium agent is not ready (kubectl -n kube-system logs ds/cilium on them)", stuck + young)
    return result(name, True, f"no node kept {STARTUP_TAINT['key']} for more than {minutes:g} min",
                  young or ["no node carries it"])


def karpenter_checks(k: Kubectl, d: Deadline, now: datetime) -> list[CheckResult]:
    """Every check above, or one SKIP when Karpenter is not installed (its CRDs are then not even asked for)."""
    controller = check_karpenter_controller(k.get(d, "deployments", all_namespaces=True, selector=SELECTOR))
    if controller.status == SKIP:
        return [CheckResult("karpenter", SKIP, NOT_INSTALLED)]
    pools = k.get(d, "nodepools.karpenter.sh")
    return [controller, check_nodepools_ready(pools), check_nodepool_startup_taints(pools),
            check_agent_taint_age(k.get(d, "nodes"), now)]
