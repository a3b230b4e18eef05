"""Encryption and metrics, live: WireGuard on every Cilium agent with every other node as a peer, and
the metrics stack scraping Cilium.

Pure ``check_*`` / ``decide_*`` functions over what the API and the agents return, then the two steps
the runner calls (``encryption_checks``, ``metrics_checks``), which fetch that and skip when the stack
has the feature off.

Encryption (``cilium-dbg status -o json`` in each agent: the agent's ``StatusResponse``, whose
``encryption`` is an ``EncryptionStatus``: ``mode`` ``"Wireguard"`` (lower-case g), ``wireguard.interfaces``
with ``name``, ``public-key``, ``listen-port``, ``peer-count`` and, in the agent's debug info, ``peers``;
Cilium ``api/v1/models`` ``encryption_status.go``, ``wireguard_interface.go``, ``wireguard_peer.go``). The
status handler reports peers by count only (``WireguardAgent.Status(false)``), so a node's peers are
judged as the Cilium docs do ("number of peers should correspond to a number of nodes subtracted by
one", encryption-wireguard.rst), and each agent's public key against the one its node published in
the CiliumNode annotation ``network.cilium.io/wg-pub-key``, which is what the other nodes encrypt with.
Where an answer lists ``peers``, their keys must be exactly the other nodes' published keys.

Metrics. Robust and end to end: Prometheus's own list of active targets (``/api/v1/targets``, read through
the API server's service proxy: nothing to install, no port-forward) must hold every Cilium job
(``cilium_eks.monitoring.CILIUM_JOBS``) up, the agent and Hubble jobs once per Cilium node. Why a
target is missing is then read in the objects: Cilium's ServiceMonitors and the PrometheusRule must
carry the labels the Prometheus resource selects them by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cilium_eks.cilium import NAMESPACE as CILIUM_NAMESPACE
from cilium_eks.encryption import WIREGUARD_INTERFACE, WIREGUARD_PUBLIC_KEY_ANNOTATION, WIREGUARD_STATUS_MODE
from cilium_eks.monitoring import (
    CILIUM_JOBS,
    PROMETHEUS_PORT,
    PROMETHEUS_RULE_NAME,
    PROMETHEUS_SERVICE,
)
from cilium_eks.monitoring import (
    NAMESPACE as MONITORING_NAMESPACE,
)

from .kubectl import CheckTimeout, Deadline, Kubectl, KubectlError
from .objects import Obj, has_label, items, meta, name_of
from .results import FAIL, SKIP, CheckResult, CommandOutcome, result

ENCRYPTION = "encryption"
METRICS = "metrics"
METRICS_SELECTION = "metrics-selection"
AGENT_CONTAINER = "cilium-agent"
AGENT_POD_LABEL = ("k8s-app", "cilium")
STATUS_COMMAND = ("cilium-dbg", "status", "-o", "json")
#: The Prometheus pods of the operator (``app.kubernetes.io/name: prometheus`` on its StatefulSet's pods).
PROMETHEUS_POD_LABEL = ("app.kubernetes.io/name", "prometheus")
#: Cilium's ServiceMonitors (chart templates ``*/servicemonitor.yaml``): name -> the job they give.
SERVICE_MONITORS: Mapping[str, str] = {"cilium-agent": "cilium-agent", "cilium-operator": "cilium-operator",
                                       "hubble": "hubble-metrics", "hubble-relay": "hubble-relay-metrics"}
#: Jobs with one target per node running Cilium (DaemonSets); the others run as Deployments.
PER_NODE_JOBS = ("cilium-agent", "hubble-metrics")
TARGETS_PATH = (f"/api/v1/namespaces/{MONITORING_NAMESPACE}/services/http:{PROMETHEUS_SERVICE}:{PROMETHEUS_PORT}"
                "/proxy/api/v1/targets?state=active")


# --------------------------------------------------------------------------------------
# Encryption
# --------------------------------------------------------------------------------------


def published_keys(ciliumnodes: Obj | Sequence[Obj]) -> dict[str, str]:
    """Node name -> the WireGuard public key its agent published on its CiliumNode."""
    out = {}
    for cn in items(ciliumnodes):
        key = (meta(cn).get("annotations") or {}).get(WIREGUARD_PUBLIC_KEY_ANNOTATION)
        if key:
            out[name_of(cn)] = str(key)
    return out


def agent_pods(pods: Obj | Sequence[Obj]) -> list[tuple[str, str]]:
    """(pod, node) of every running Cilium agent."""
    return sorted((name_of(p), str((p.get("spec") or {}).get("nodeName") or ""))
                  for p in items(pods)
                  if has_label(p, AGENT_POD_LABEL) and meta(p).get("namespace") == CILIUM_NAMESPACE
                  and (p.get("status") or {}).get("phase") == "Running")


def decide_encryption_wanted(expected: str | None, ciliumnodes: Obj | Sequence[Obj]) -> CheckResult | None:
    """None when the check must run; a SKIP when the stack (or, without ``--stack``, the cluster) has
    encryption off."""
    if expected == "wireguard":
        return None
    if expected is not None:
        return CheckResult(ENCRYPTION, SKIP, f"encryption is off for this stack (ciliumEncryption {expected})")
    if published_keys(ciliumnodes):
        return None
    return CheckResult(ENCRYPTION, SKIP, f"encryption is off: no CiliumNode carries {WIREGUARD_PUBLIC_KEY_ANNOTATION} "
                       "(pass --stack to check what the stack asks for)")


def _status(outcome: CommandOutcome | None) -> tuple[dict[str, Any] | None, str | None]:
    if outcome is None:
        return None, "not run"
    if outcome.timed_out:
        return None, "`cilium-dbg status` gave no answer in time"
    if outcome.returncode != 0:
        said = (outcome.stderr.strip() or outcome.stdout.strip() or "no output").splitlines()[-1]
        return None, f"`cilium-dbg status` failed (exit {outcome.returncode}): {said[:200]}"
    try:
        data = json.loads(outcome.stdout)
    except ValueError:
        return None, "`cilium-dbg status -o json` did not print JSON"
    return (data, None) if isinstance(data, dict) else (None, "`cilium-dbg status -o json` printed no object")


def check_encryption(ciliumnodes: Obj | Sequence[Obj], agents: Sequence[tuple[str, str]],
                     statuses: Mapping[str, CommandOutcome | None]) -> CheckResult:
    """Every agent runs WireGuard on ``cilium_wg0`` with the public key its node published, and has every
    other Cilium node as a peer. ``statuses`` maps agent pod -> its ``cilium-dbg status -o json`` outcome."""
    keys = published_keys(ciliumnodes)
    nodes = sorted(name_of(cn) for cn in items(ciliumnodes))
    evidence: list[str] = []
    problems: list[str] = []
    if not agents:
        return result(ENCRYPTION, False, "no running Cilium agent to ask", [f"Cilium nodes: {len(nodes)}"])
    for missing in sorted(set(nodes) - set(keys)):
        problems.append(f"{missing}: its CiliumNode carries no {WIREGUARD_PUBLIC_KEY_ANNOTATION}: the other nodes "
                        "cannot encrypt to it")
    for pod, node in agents:
        data, error = _status(statuses.get(pod))
        if data is None:
            problems.append(f"{node} ({pod}): {error}")
            continue
        enc = data.get("encryption") or {}
        mode = enc.get("mode")
        if mode != WIREGUARD_STATUS_MODE:
            problems.append(f"{node} ({pod}): encryption mode {mode!r}, not {WIREGUARD_STATUS_MODE!r}"
                            + (f" ({enc['msg']})" if enc.get("msg") else ""))
            continue
        interfaces = (enc.get("wireguard") or {}).get("interfaces") or []
        wg = next((i for i in interfaces if i.get("name") == WIREGUARD_INTERFACE), None)
        if wg is None:
            problems.append(f"{node} ({pod}): no {WIREGUARD_INTERFACE} interface"
                            + (f" ({enc['msg']})" if enc.get("msg") else ""))
            continue
        others = [n for n in nodes if n != node]
        count = wg.get("peer-count")
        line = f"{node}: {WIREGUARD_INTERFACE} port {wg.get('listen-port', '?')}, {count} peer(s) of {len(others)}"
        evidence.append(line)
        if count != len(others):
            problems.append(f"{node} ({pod}): {count} WireGuard peer(s), but {len(others)} other node(s) run Cilium")
        if node in keys and wg.get("public-key") != keys[node]:
            problems.append(f"{node} ({pod}): its public key is not the one its CiliumNode publishes: peers encrypt "
                            "with a key it does not hold")
        peers = wg.get("peers")
        if isinstance(peers, list):
            got = {p.get("public-key") for p in peers}
            want = {keys[n] for n in others if n in keys}
            if got != want:
                problems.append(f"{node} ({pod}): its peers' keys are not the other nodes' published keys "
                                f"({len(got & want)} of {len(want)} match)")
    if problems:
        return result(ENCRYPTION, False, "WireGuard is not up between every pair of nodes", [*problems, *evidence])
    return result(ENCRYPTION, True, f"WireGuard on {len(agents)}/{len(nodes)} nodes, each peered with every other",
                  evidence)


def encryption_checks(k: Kubectl, d: Deadline, expected: str | None) -> list[CheckResult]:
    """The encryption check on a live cluster (``expected``: the stack's ``ciliumEncryption``, or None)."""
    ciliumnodes = k.get(d, "ciliumnodes.cilium.io")
    skip = decide_encryption_wanted(expected, ciliumnodes)
    if skip is not None:
        return [skip]
    agents = agent_pods(k.get(d, "pods", all_namespaces=True))
    statuses: dict[str, CommandOutcome | None] = {}
    for pod, _ in agents:
        try:
            statuses[pod] = k.exec(d, CILIUM_NAMESPACE, pod, AGENT_CONTAINER, list(STATUS_COMMAND))
        except CheckTimeout:
            statuses[pod] = CommandOutcome(("kubectl", "exec", pod), None)
    return [check_encryption(ciliumnodes, agents, statuses)]


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def decide_metrics_wanted(expected: str | None, pods: Obj | Sequence[Obj]) -> CheckResult | None:
    """None when the checks must run; a SKIP when the stack (or, without ``--stack``, the cluster) has no
    metrics stack."""
    if expected == "prometheus":
        return None
    if expected is not None:
        return CheckResult(METRICS, SKIP, f"the metrics stack is off for this stack (observability {expected})")
    if any(has_label(p, PROMETHEUS_POD_LABEL) for p in items(pods)):
        return None
    return CheckResult(METRICS, SKIP, "no Prometheus in the cluster (observability none; pass --stack to check "
                       "what the stack asks for)")


def check_metric_targets(targets: Mapping[str, Any] | None, ciliumnodes: Obj | Sequence[Obj]) -> CheckResult:
    """Prometheus scrapes every Cilium job, all targets up, the per-node jobs once per Cilium node.
    ``targets`` is the answer of Prometheus's ``/api/v1/targets?state=active``."""
    if not isinstance(targets, Mapping) or targets.get("status") != "success":
        return result(METRICS, False, "Prometheus's target list could not be read",
                      [f"answer: {str(targets)[:200]}"])
    active = (targets.get("data") or {}).get("activeTargets") or []
    nodes = len(items(ciliumnodes))
    evidence: list[str] = []
    problems: list[str] = []
    for job, what in CILIUM_JOBS.items():
        mine = [t for t in active if (t.get("labels") or {}).get("job") == job]
        down = [t for t in mine if t.get("health") != "up"]
        evidence.append(f"{job}: {len(mine) - len(down)}/{len(mine)} target(s) up ({what})")
        if not mine:
            problems.append(f"{job}: no target: Prometheus does not scrape {what}")
        for t in down:
            problems.append(f"{job}: {t.get('scrapeUrl', '?')} is {t.get('health', '?')}: {t.get('lastError') or '-'}")
        if job in PER_NODE_JOBS and mine and len(mine) != nodes:
            problems.append(f"{job}: {len(mine)} target(s) for {nodes} Cilium node(s)")
    if problems:
        return result(METRICS, False, "Prometheus does not scrape every Cilium target", [*problems, *evidence])
    return result(METRICS, True, f"Prometheus scrapes every Cilium job ({len(CILIUM_JOBS)}), all targets up", evidence)


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector against labels; ``{}`` selects everything, None (absent) nothing here."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        present = key in labels
        if ((op == "In" and labels.get(key) not in values) or (op == "NotIn" and present and labels[key] in values)
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present)):
            return False
    return True


def check_metrics_selection(servicemonitors: Obj | Sequence[Obj], prometheuses: Obj | Sequence[Obj],
                            rules: Obj | Sequence[Obj]) -> CheckResult:
    """Cilium's ServiceMonitors (in the Cilium namespace) and the project's PrometheusRule exist and
    carry the labels the Prometheus resource selects them by."""
    proms = items(prometheuses)
    if not proms:
        return result(METRICS_SELECTION, False, "no Prometheus resource (monitoring.coreos.com/v1) in the cluster")
    spec = proms[0].get("spec") or {}
    monitors = {name_of(m): m for m in items(servicemonitors) if meta(m).get("namespace") == CILIUM_NAMESPACE}
    problems: list[str] = []
    evidence = [f"Prometheus {meta(proms[0]).get('namespace')}/{name_of(proms[0])} selects ServiceMonitors by "
                f"{spec.get('serviceMonitorSelector')} and rules by {spec.get('ruleSelector')}"]
    for name in SERVICE_MONITORS:
        m = monitors.get(name)
        if m is None:
            problems.append(f"ServiceMonitor {CILIUM_NAMESPACE}/{name} is missing (the Cilium values' "
                            "*.serviceMonitor.enabled)")
        elif not _selects(spec.get("serviceMonitorSelector"), meta(m).get("labels") or {}):
            problems.append(f"ServiceMonitor {CILIUM_NAMESPACE}/{name} lacks the labels Prometheus selects")
    rule = next((r for r in items(rules) if name_of(r) == PROMETHEUS_RULE_NAME), None)
    if rule is None:
        problems.append(f"PrometheusRule {PROMETHEUS_RULE_NAME} is missing: no Cilium alert can fire")
    elif not _selects(spec.get("ruleSelector"), meta(rule).get("labels") or {}):
        problems.append(f"PrometheusRule {PROMETHEUS_RULE_NAME} lacks the labels Prometheus selects rules by")
    if problems:
        return result(METRICS_SELECTION, False, "Prometheus does not select all of Cilium's monitors and rules",
                      [*problems, *evidence])
    return result(METRICS_SELECTION, True, f"Prometheus selects Cilium's {len(SERVICE_MONITORS)} ServiceMonitors "
                  "and its alert rules", evidence)


def get_raw(k: Kubectl, d: Deadline, path: str) -> Any:
    """``kubectl get --raw <path>`` as JSON (the API server's proxy to a Service)."""
    return k.json(d, ["get", "--raw", path])


def metrics_checks(k: Kubectl, d: Deadline, expected: str | None) -> list[CheckResult]:
    """The metrics checks on a live cluster (``expected``: the stack's ``observability``, or None)."""
    skip = decide_metrics_wanted(expected, k.get(d, "pods", all_namespaces=True))
    if skip is not None:
        return [skip]
    out = []
    try:
        out.append(check_metric_targets(get_raw(k, d, TARGETS_PATH), k.get(d, "ciliumnodes.cilium.io")))
    except KubectlError as exc:
        out.append(CheckResult(METRICS, FAIL, "Prometheus's target list could not be read", (str(exc),)))
    out.append(check_metrics_selection(
        k.get(d, "servicemonitors.monitoring.coreos.com", all_namespaces=True),
        k.get(d, "prometheuses.monitoring.coreos.com", all_namespaces=True),
        k.get(d, "prometheusrules.monitoring.coreos.com", all_namespaces=True)))
    return out
