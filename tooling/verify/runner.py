"""The runner: every check in order, each under its own deadline (one that times out or cannot
read the cluster fails alone), then the cilium CLI; and the report that prints the results."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from cilium_eks import demo
from cilium_eks.capacity import PodAddressing
from cilium_eks.cilium import NAMESPACE as CILIUM_NAMESPACE

from .capacity import check_capacity, decide_subnets, subnet_ids
from .checks import (
    check_agent_taint,
    check_aws_node,
    check_cilium_agent,
    check_cilium_envoy,
    check_cilium_operator,
    check_hubble,
    check_pod_ips_from_cilium,
    check_pods_managed,
    decide_cilium_status,
    decide_connectivity_test,
    decide_demo_stage,
    decide_probe,
    find_demo_namespaces,
)
from .karpenter import karpenter_checks
from .kubectl import CheckTimeout, Deadline, Kubectl, KubectlError, Runner, run_command
from .objects import items
from .observability import encryption_checks, metrics_checks
from .results import EXIT_FAILED, EXIT_OK, FAIL, PASS, SKIP, CheckResult, result


@dataclass(frozen=True)
class Options:
    """``pod_addressing`` is the stack's (``--stack``), else the program's defaults; so are
    ``encryption`` and ``observability`` (else decided from the cluster)."""

    timeout: float = 60
    connectivity_test: bool = False
    connectivity_timeout: float = 1800
    demo_namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    pod_addressing: PodAddressing = field(default_factory=PodAddressing)
    #: The stack's ``ciliumEncryption`` and ``observability`` (``--stack``); None: read from the cluster.
    encryption: str | None = None
    observability: str | None = None


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

    reach = _guarded("api-server", t, lambda d: result(
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
    results += _guarded("encryption", t, lambda d: encryption_checks(k, d, opts.encryption))
    results += _guarded("metrics", t, lambda d: metrics_checks(k, d, opts.observability))
    results += _guarded("capacity", t, lambda d: check_capacity(
        k.get(d, "nodes"), k.get(d, "ciliumnodes.cilium.io"), opts.pod_addressing))
    results += _guarded("karpenter", t, lambda d: karpenter_checks(k, d, datetime.now(UTC)))
    results += _guarded("subnet-headroom", t, lambda d: _subnet_check(k, d, opts, which, run))
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


def _subnet_check(k: Kubectl, d: Deadline, opts: Options, which: Callable[[str], str | None],
                  run: Runner) -> CheckResult:
    aws = which("aws")
    ids = subnet_ids(k.get(d, "ciliumnodes.cilium.io"))
    outcome = None
    if aws is not None and ids:
        outcome = run_command([aws, "ec2", "describe-subnets", "--subnet-ids", *ids, "--output", "json"],
                              opts.timeout, dict(os.environ), run)
    return decide_subnets(outcome, aws is not None)


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
