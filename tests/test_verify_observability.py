"""`verify`'s encryption and metrics checks: pass and fail fixtures (tests/fixtures/verify/), the skip
when the stack has the feature off, and the runner with a fake kubectl that answers `exec` and `get --raw`.

The fixtures are the healthy dev cluster of tests/test_verify.py (two nodes) with WireGuard on: each
agent's `cilium-dbg status -o json`, the CiliumNodes with their published keys, Prometheus's active
targets, the ServiceMonitors, the Prometheus resource and the PrometheusRule.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cilium_eks.encryption import WIREGUARD_PUBLIC_KEY_ANNOTATION
from tooling import verify
from tooling.verify import FAIL, PASS, SKIP, CommandOutcome
from tooling.verify import observability as obs
from tooling.verify.cli import stack_settings

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
NODE_A = "ip-10-0-21-87.eu-west-1.compute.internal"
NODE_B = "ip-10-0-97-14.eu-west-1.compute.internal"
AGENTS = [("cilium-7xk2p", NODE_A), ("cilium-q9m4d", NODE_B)]


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ok(name: str) -> CommandOutcome:
    return CommandOutcome(("kubectl", "exec"), 0, (FIXTURES / f"{name}.json").read_text())


def statuses() -> dict[str, CommandOutcome | None]:
    return {"cilium-7xk2p": ok("cilium-status-wireguard-node-a"), "cilium-q9m4d": ok("cilium-status-wireguard-node-b")}


def text(r: verify.CheckResult) -> str:
    return "\n".join((r.summary, *r.evidence))


# --- encryption ------------------------------------------------------------------------------


def test_the_agents_are_found_from_the_pods_listing():
    assert obs.agent_pods(load("pods")) == AGENTS


def test_wireguard_on_every_agent_with_every_other_node_as_peer_passes():
    r = obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, statuses())
    assert r.status == PASS, text(r)
    assert "WireGuard on 2/2 nodes" in r.summary
    assert f"{NODE_A}: cilium_wg0 port 51871, 1 peer(s) of 1" in r.evidence


def test_an_agent_without_wireguard_fails_and_is_named():
    s = statuses()
    s["cilium-q9m4d"] = ok("cilium-status-encryption-disabled")
    r = obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, s)
    assert r.status == FAIL
    assert f"{NODE_B} (cilium-q9m4d): encryption mode 'Disabled', not 'Wireguard'" in r.evidence
    assert NODE_A not in r.evidence[0]


def test_a_missing_peer_fails():
    s = statuses()
    data = load("cilium-status-wireguard-node-a")
    data["encryption"]["wireguard"]["interfaces"][0]["peer-count"] = 0
    s["cilium-7xk2p"] = CommandOutcome(("kubectl",), 0, json.dumps(data))
    r = obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, s)
    assert r.status == FAIL and "0 WireGuard peer(s), but 1 other node(s) run Cilium" in text(r)


def test_a_key_that_is_not_the_published_one_fails():
    nodes = load("ciliumnodes-wireguard")
    nodes["items"][1]["metadata"]["annotations"][WIREGUARD_PUBLIC_KEY_ANNOTATION] = "c3RhbGUga2V5IGZyb20gYSByZWJvb3Q="
    r = obs.check_encryption(nodes, AGENTS, statuses())
    assert r.status == FAIL and f"{NODE_B} (cilium-q9m4d): its public key is not the one" in text(r)


def test_a_node_that_publishes_no_key_fails():
    nodes = load("ciliumnodes-wireguard")
    del nodes["items"][0]["metadata"]["annotations"][WIREGUARD_PUBLIC_KEY_ANNOTATION]
    r = obs.check_encryption(nodes, AGENTS, statuses())
    assert r.status == FAIL and f"{NODE_A}: its CiliumNode carries no {WIREGUARD_PUBLIC_KEY_ANNOTATION}" in text(r)


def test_listed_peers_must_be_the_other_nodes_keys():
    keys = obs.published_keys(load("ciliumnodes-wireguard"))
    s = statuses()
    data = load("cilium-status-wireguard-node-a")
    wg = data["encryption"]["wireguard"]["interfaces"][0]
    wg["peers"] = [{"public-key": keys[NODE_B], "endpoint": "10.0.97.14:51871"}]
    s["cilium-7xk2p"] = CommandOutcome(("kubectl",), 0, json.dumps(data))
    assert obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, s).status == PASS
    wg["peers"] = [{"public-key": keys[NODE_A], "endpoint": "10.0.21.87:51871"}]  # itself, not node B
    s["cilium-7xk2p"] = CommandOutcome(("kubectl",), 0, json.dumps(data))
    r = obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, s)
    assert r.status == FAIL and "0 of 1 match" in text(r)


@pytest.mark.parametrize(("outcome", "said"), [
    (None, "not run"),
    (CommandOutcome(("kubectl",), None), "no answer in time"),
    (CommandOutcome(("kubectl",), 1, "", "error: unable to upgrade connection: container not found\n"),
     "failed (exit 1): error: unable to upgrade connection"),
    (CommandOutcome(("kubectl",), 0, "KVStore: Ok\n"), "did not print JSON"),
])
def test_an_agent_that_cannot_answer_fails(outcome: CommandOutcome | None, said: str):
    s = statuses()
    s["cilium-q9m4d"] = outcome
    r = obs.check_encryption(load("ciliumnodes-wireguard"), AGENTS, s)
    assert r.status == FAIL and said in text(r)


def test_no_agent_at_all_fails():
    assert obs.check_encryption(load("ciliumnodes-wireguard"), [], {}).status == FAIL


def test_encryption_is_skipped_only_when_the_stack_or_the_cluster_has_it_off():
    assert obs.decide_encryption_wanted("wireguard", load("ciliumnodes")) is None  # asked for: checked
    skip = obs.decide_encryption_wanted("none", load("ciliumnodes-wireguard"))
    assert skip is not None and skip.status == SKIP and "ciliumEncryption none" in skip.summary
    assert obs.decide_encryption_wanted(None, load("ciliumnodes-wireguard")) is None  # keys published: on
    skip = obs.decide_encryption_wanted(None, load("ciliumnodes"))
    assert skip is not None and skip.status == SKIP and WIREGUARD_PUBLIC_KEY_ANNOTATION in skip.summary


# --- metrics ------------------------------------------------------------------------------------


def test_every_cilium_job_scraped_and_up_passes():
    r = obs.check_metric_targets(load("prometheus-targets"), load("ciliumnodes-wireguard"))
    assert r.status == PASS, text(r)
    assert "cilium-agent: 2/2 target(s) up (the Cilium agent on every node (port 9962))" in r.evidence


def test_a_target_down_fails_with_its_error():
    r = obs.check_metric_targets(load("prometheus-targets-relay-down"), load("ciliumnodes-wireguard"))
    assert r.status == FAIL
    assert "hubble-relay-metrics: http://10.0.97.31:9966/metrics is down: Get" in text(r)


def test_a_job_without_targets_or_short_of_nodes_fails():
    targets = load("prometheus-targets")
    active = targets["data"]["activeTargets"]
    targets["data"]["activeTargets"] = [t for t in active if t["labels"]["job"] != "cilium-operator"]
    r = obs.check_metric_targets(targets, load("ciliumnodes-wireguard"))
    assert r.status == FAIL and "cilium-operator: no target" in text(r)
    targets = load("prometheus-targets")
    targets["data"]["activeTargets"] = [t for t in active if t["scrapeUrl"] != "http://10.0.97.14:9962/metrics"]
    r = obs.check_metric_targets(targets, load("ciliumnodes-wireguard"))
    assert r.status == FAIL and "cilium-agent: 1 target(s) for 2 Cilium node(s)" in text(r)


def test_an_error_answer_from_prometheus_fails():
    assert obs.check_metric_targets({"status": "error", "error": "x"}, load("ciliumnodes")).status == FAIL
    assert obs.check_metric_targets(None, load("ciliumnodes")).status == FAIL


def test_the_monitors_and_rules_selected_by_prometheus_pass():
    r = obs.check_metrics_selection(load("servicemonitors"), load("prometheuses"), load("prometheusrules"))
    assert r.status == PASS, text(r)


def test_a_monitor_without_the_release_label_fails():
    monitors = load("servicemonitors")
    del monitors["items"][2]["metadata"]["labels"]["release"]  # hubble
    r = obs.check_metrics_selection(monitors, load("prometheuses"), load("prometheusrules"))
    assert r.status == FAIL and "ServiceMonitor kube-system/hubble lacks the labels Prometheus selects" in text(r)


def test_missing_monitors_rule_or_prometheus_fail():
    monitors = load("servicemonitors")
    monitors["items"] = [m for m in monitors["items"] if m["metadata"]["name"] != "cilium-operator"]
    r = obs.check_metrics_selection(monitors, load("prometheuses"), {"items": []})
    assert r.status == FAIL
    assert "ServiceMonitor kube-system/cilium-operator is missing" in text(r)
    assert "PrometheusRule cilium-eks-alerts is missing" in text(r)
    assert obs.check_metrics_selection(load("servicemonitors"), {"items": []}, load("prometheusrules")).status == FAIL


def test_a_prometheus_selecting_everything_selects_the_monitors():
    proms = load("prometheuses")
    proms["items"][0]["spec"]["serviceMonitorSelector"] = {}
    monitors = load("servicemonitors")
    for m in monitors["items"]:
        m["metadata"]["labels"].pop("release", None)
    assert obs.check_metrics_selection(monitors, proms, load("prometheusrules")).status == PASS
    proms["items"][0]["spec"]["serviceMonitorSelector"] = {
        "matchExpressions": [{"key": "team", "operator": "Exists"}]}
    assert obs.check_metrics_selection(monitors, proms, load("prometheusrules")).status == FAIL


def test_metrics_are_skipped_only_when_the_stack_or_the_cluster_has_none():
    assert obs.decide_metrics_wanted("prometheus", load("pods")) is None
    skip = obs.decide_metrics_wanted("none", load("pods"))
    assert skip is not None and skip.status == SKIP and "observability none" in skip.summary
    skip = obs.decide_metrics_wanted(None, load("pods"))  # the dev fixture runs no Prometheus
    assert skip is not None and skip.status == SKIP
    pods = load("pods")
    prometheus = copy.deepcopy(pods["items"][0])
    prometheus["metadata"].update(name="prometheus-kube-prometheus-stack-prometheus-0", namespace="monitoring",
                                  labels={"app.kubernetes.io/name": "prometheus"})
    pods["items"].append(prometheus)
    assert obs.decide_metrics_wanted(None, pods) is None


def test_the_stack_file_says_what_verify_expects():
    prod, dev = stack_settings("prod"), stack_settings("dev")
    assert (prod.cilium.encryption, prod.cilium.observability) == ("wireguard", "prometheus")
    assert (dev.cilium.encryption, dev.cilium.observability) == ("none", "none")


# --- the runner, with a fake kubectl ------------------------------------------------------------


class FakeCluster:
    """`kubectl get -o json` from the fixtures, `get --raw` from Prometheus's targets, `exec` per agent."""

    def __init__(self, lists: dict[str, Any], exec_answers: dict[str, CommandOutcome], targets: Any) -> None:
        self.lists = lists
        self.exec_answers = exec_answers
        self.targets = targets
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        if os.path.basename(args[0]) != "kubectl":
            return subprocess.CompletedProcess(args, 127, "", "not here")
        if "exec" in args:
            pod = args[args.index("--namespace") + 2]
            o = self.exec_answers[pod]
            return subprocess.CompletedProcess(args, o.returncode or 0, o.stdout, o.stderr)
        if "--raw" in args:
            return subprocess.CompletedProcess(args, 0, json.dumps(self.targets), "")
        resource = args[args.index("get") + 1]
        return subprocess.CompletedProcess(args, 0, json.dumps(self.lists.get(resource, {"items": []})), "")


def cluster(targets: Any = None, agent_b: str = "cilium-status-wireguard-node-b") -> FakeCluster:
    pods = load("pods")
    prometheus = copy.deepcopy(pods["items"][0])
    prometheus["metadata"].update(name="prometheus-kube-prometheus-stack-prometheus-0", namespace="monitoring",
                                  labels={"app.kubernetes.io/name": "prometheus"})
    pods["items"].append(prometheus)
    lists = {"nodes": load("nodes"), "pods": pods, "daemonsets": load("daemonsets"), "deployments": load("deployments"),
             "ciliumendpoints.cilium.io": load("ciliumendpoints"),
             "ciliumnodes.cilium.io": load("ciliumnodes-wireguard"),
             "namespaces": {"items": []},
             "servicemonitors.monitoring.coreos.com": load("servicemonitors"),
             "prometheuses.monitoring.coreos.com": load("prometheuses"),
             "prometheusrules.monitoring.coreos.com": load("prometheusrules")}
    return FakeCluster(lists, {"cilium-7xk2p": ok("cilium-status-wireguard-node-a"), "cilium-q9m4d": ok(agent_b)},
                       targets if targets is not None else load("prometheus-targets"))


def run(fake: FakeCluster, tmp_path: Path) -> tuple[int, dict[str, str], str]:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    out = io.StringIO()
    code = verify.main(["--kubeconfig", str(kubeconfig)], out=out, err=io.StringIO(),
                       which=lambda n: f"/usr/bin/{n}" if n == "kubectl" else None, run=fake)
    lines = {}
    for line in out.getvalue().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (PASS, FAIL, SKIP):
            lines[parts[1]] = parts[0]
    return code, lines, out.getvalue()


def test_the_runner_checks_encryption_and_metrics_after_hubble(tmp_path: Path):
    fake = cluster()
    _, lines, out = run(fake, tmp_path)
    names = list(lines)
    assert names.index("encryption") == names.index("hubble") + 1
    assert lines["encryption"] == lines["metrics"] == lines["metrics-selection"] == PASS, out
    execs = [a for a in fake.calls if "exec" in a]
    assert {a[a.index("--namespace") + 2] for a in execs} == {"cilium-7xk2p", "cilium-q9m4d"}
    assert all(a[a.index("--") + 1:] == ["cilium-dbg", "status", "-o", "json"] for a in execs)
    assert all(a[a.index("--container") + 1] == "cilium-agent" for a in execs)
    [raw] = [a for a in fake.calls if "--raw" in a]
    assert raw[-1] == ("/api/v1/namespaces/monitoring/services/http:kube-prometheus-stack-prometheus:9090"
                       "/proxy/api/v1/targets?state=active")


def test_the_runner_fails_an_agent_without_wireguard_and_a_target_down(tmp_path: Path):
    code, lines, out = run(cluster(load("prometheus-targets-relay-down"), "cilium-status-encryption-disabled"),
                           tmp_path)
    assert code == 1
    assert lines["encryption"] == FAIL and lines["metrics"] == FAIL and lines["metrics-selection"] == PASS
    assert "connection refused" in out
