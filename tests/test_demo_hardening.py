"""The star-wars demo's pods, hardened without changing the demo.

Every demo pod must meet the Restricted Pod Security Standard that its namespace enforces
(kubernetes.io/docs/concepts/security/pod-security-standards/: the Baseline controls plus
Restricted's volume types, privilege escalation, non-root, seccomp and capabilities), and carry
requests, limits and TCP probes; and the containers must still run the upstream images exactly as
upstream starts them (same name, image, entrypoint, arguments, environment), so the recipe's
probes get the answers they always got.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.test_demo import by_name, demo_resources, dev_graph, upstream_docs
from tooling.mockengine import Graph

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD = "kubernetes:core/v1:Pod"
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"

# --- the Pod Security Standards, as the documentation states them ---------------------------

#: Baseline "Capabilities": what may be added.
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
#: Baseline "Sysctls": the safe set (the kubelet's, pkg/kubelet/sysctl/safe_sysctls.go).
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time"}
#: Restricted "Volume Types": the only volume sources allowed.
RESTRICTED_VOLUME_SOURCES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                             "projected", "secret"}
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def restricted_problems(spec: Mapping[str, Any]) -> list[str]:
    """What keeps a pod spec (camelCase, as the API server reads it) out of `restricted`."""
    problems: list[str] = []
    pod_sc: Mapping[str, Any] = spec.get("securityContext") or {}
    # Baseline
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(f"{key} shares a host namespace")
    for volume in spec.get("volumes") or []:
        sources = set(volume) - {"name"}
        if "hostPath" in sources:
            problems.append(f"volume {volume['name']} is a hostPath")
        elif not sources <= RESTRICTED_VOLUME_SOURCES:
            problems.append(f"volume {volume['name']} uses {sorted(sources - RESTRICTED_VOLUME_SOURCES)}")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']} is not in the safe set")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        problems.append("the pod's seccomp profile is Unconfined")
    for c in _containers(spec):
        sc: Mapping[str, Any] = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name} is privileged")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{name} unmasks /proc")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{name} uses hostPort {port['hostPort']}")
        for probe in (c.get(p) or {} for p in PROBES):
            for handler in ("httpGet", "tcpSocket"):
                if (probe.get(handler) or {}).get("host"):
                    problems.append(f"{name} probes another host")
        caps = sc.get("capabilities") or {}
        added = set(caps.get("add") or [])
        if not added <= BASELINE_CAPABILITIES:
            problems.append(f"{name} adds {sorted(added - BASELINE_CAPABILITIES)}")
        # Restricted
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name} does not set allowPrivilegeEscalation: false")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{name} does not require runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name} runs as UID 0")
        if (sc.get("seccompProfile") or {}).get("type", pod_seccomp) not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name} has no RuntimeDefault/Localhost seccomp profile")
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name} does not drop ALL capabilities")
        if not added <= {"NET_BIND_SERVICE"}:
            problems.append(f"{name} adds capabilities beyond NET_BIND_SERVICE")
    return problems


# --- the demo's pods ------------------------------------------------------------------------


def pod_specs(graph: Graph) -> dict[str, dict[str, Any]]:
    """Every pod spec the demo declares: the deathstar Deployment's template and the two Pods."""
    out: dict[str, dict[str, Any]] = {}
    for r in demo_resources(graph):
        if r.type == DEPLOYMENT:
            out[r.inputs["metadata"]["name"]] = r.inputs["spec"]["template"]["spec"]
        elif r.type == POD:
            out[r.inputs["metadata"]["name"]] = r.inputs["spec"]
    return out


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    found = pod_specs(dev_graph("l7"))
    assert sorted(found) == ["deathstar", "tiefighter", "xwing"]
    return found


def test_every_demo_pod_meets_the_standard_its_namespace_enforces(specs: dict[str, dict[str, Any]]):
    [ns] = [r for r in demo_resources(dev_graph("l7")) if r.type == NAMESPACE]
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {name: restricted_problems(spec) for name, spec in specs.items()} == {
        "deathstar": [], "tiefighter": [], "xwing": []}


Edit = Callable[[dict[str, Any]], None]


def _container(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["containers"][0]


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda s: s["securityContext"].pop("runAsNonRoot"), "does not require runAsNonRoot"),
    (lambda s: s["securityContext"].update(runAsUser=0), "runs as UID 0"),
    (lambda s: s["securityContext"].pop("seccompProfile"), "seccomp"),
    (lambda s: s["securityContext"]["sysctls"].append({"name": "net.core.somaxconn", "value": "1024"}),
     "sysctl net.core.somaxconn is not in the safe set"),
    (lambda s: s.update(hostNetwork=True), "hostNetwork"),
    (lambda s: s.update(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "hostPath"),
    (lambda s: _container(s)["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
    (lambda s: _container(s)["securityContext"].update(privileged=True), "is privileged"),
    (lambda s: _container(s)["securityContext"]["capabilities"].update(add=["NET_RAW"]), "adds capabilities"),
    (lambda s: _container(s)["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop ALL"),
    (lambda s: _container(s)["securityContext"].update(seccompProfile={"type": "Unconfined"}), "seccomp"),
    (lambda s: _container(s).update(ports=[{"containerPort": 80, "hostPort": 80}]), "hostPort"),
], ids=["root-allowed", "uid-0", "no-seccomp", "unsafe-sysctl", "host-network", "host-path", "escalation",
        "privileged", "net-raw", "no-drop-all", "unconfined", "host-port"])
def test_the_standard_check_refuses_each_weakening(specs: dict[str, dict[str, Any]], edit: Edit, fragment: str):
    spec = copy.deepcopy(specs["deathstar"])
    edit(spec)
    problems = restricted_problems(spec)
    assert any(fragment in p for p in problems), problems


def test_both_servers_may_bind_port_80_without_root(specs: dict[str, dict[str, Any]]):
    # starwars v2.3 runs `/starwars-docker --port 80`, json-mock v1.3.8 `json-server --port 80`
    # (their ENTRYPOINTs, which the containers do not override): without root or a capability,
    # port 80 must be unprivileged in the pod's network namespace.
    for name, spec in specs.items():
        sysctls = {s["name"]: s["value"] for s in spec["securityContext"]["sysctls"]}
        assert int(sysctls["net.ipv4.ip_unprivileged_port_start"]) <= 80, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert _container(spec)["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name


def test_the_containers_run_the_upstream_images_as_upstream_starts_them(reference: Path,
                                                                        specs: dict[str, dict[str, Any]]):
    """Only hardening is added: no command, arguments, environment, ports, volumes or working
    directory that would change what the servers do or where they listen."""
    upstream = {d["metadata"]["name"]: d for d in upstream_docs(reference, "http-sw-app.yaml")
                if d["kind"] in ("Deployment", "Pod")}
    hardening = {"resources", "readinessProbe", "livenessProbe", "securityContext"}
    for name, spec in specs.items():
        doc = upstream[name]
        upstream_spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]
        [ours], [theirs] = spec["containers"], upstream_spec["containers"]
        assert {k: ours[k] for k in theirs} == theirs, name
        assert set(ours) - set(theirs) == hardening, name
        assert set(spec) - set(upstream_spec) == {"securityContext", "automountServiceAccountToken"}, name


def test_probes_connect_to_the_served_port_and_send_no_request(specs: dict[str, dict[str, Any]]):
    graph = dev_graph("l7")
    service = by_name(graph, SERVICE, "deathstar")
    [port] = service.inputs["spec"]["ports"]
    served = port.get("targetPort", port["port"])
    for name, spec in specs.items():
        container = _container(spec)
        for probe in ("readinessProbe", "livenessProbe"):
            # a TCP connect only: an HTTP probe would be a request the recipe does not make
            assert set(container[probe]) - {"periodSeconds", "timeoutSeconds", "failureThreshold"} == {"tcpSocket"}
            assert container[probe]["tcpSocket"] == {"port": served}, (name, probe)
        # liveness gives up later than readiness: a slow start makes a pod unready, not restarted
        liveness, readiness = container["livenessProbe"], container["readinessProbe"]
        assert (liveness["periodSeconds"] * liveness["failureThreshold"]
                > readiness["periodSeconds"] * readiness["failureThreshold"]), name


_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(text: str) -> float:
    """A Kubernetes resource quantity (the forms the demo and the chart examples use)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?", text)
    assert m, f"not a quantity: {text!r}"
    return float(m[1]) * _UNITS[m[2] or ""]


def test_quantity_parsing():
    assert quantity("10m") == 0.01 and quantity("2") == 2
    assert quantity("64Mi") == 64 * 2**20 and quantity("1024M") == 1.024e9 < quantity("1Gi")
    with pytest.raises(AssertionError):
        quantity("64MB")


def test_every_container_requests_less_than_its_limits(specs: dict[str, dict[str, Any]]):
    for name, spec in specs.items():
        resources = _container(spec)["resources"]
        for kind in ("cpu", "memory"):
            request, limit = quantity(resources["requests"][kind]), quantity(resources["limits"][kind])
            assert 0 < request <= limit, (name, kind)

