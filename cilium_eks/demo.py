"""The star-wars demo of the Cilium docs, as pure data: objects, policies per stage, probes.

Shared by the :class:`components.star_wars_demo.StarWarsDemo` component (which declares
these objects), ``tooling.verify`` (which probes them on a live cluster and recognises
the deployed policy stage) and the tests (which hold them against the upstream files
``examples/http-sw-app.yaml``, ``sw_l3_l4_policy.yaml`` and ``sw_l3_l4_l7_policy.yaml``).

Workload specs are typed ``*ArgsDict`` (snake_case keys, what pulumi-kubernetes takes);
policy specs are plain camelCase dicts, exactly what the CiliumNetworkPolicy CRD reads,
because a ``CustomResource`` passes its ``spec`` through untranslated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:  # only the TypedDicts; verify must not need the Pulumi SDK at run time
    from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
    from pulumi_kubernetes.core.v1 import (
        ContainerArgsDict,
        PodSecurityContextArgsDict,
        PodSpecArgsDict,
        ProbeArgsDict,
        ResourceRequirementsArgsDict,
        SecurityContextArgsDict,
        ServiceSpecArgsDict,
    )

#: ``none``: no policy; ``l3l4``: only ``org=empire`` reaches deathstar on TCP 80; ``l7``:
#: that, and only ``POST /v1/request-landing``.
DemoPolicy = Literal["none", "l3l4", "l7"]
POLICY_STAGES: tuple[str, ...] = get_args(DemoPolicy)

#: Upstream images, pinned by digest as in examples/http-sw-app.yaml (starwars v2.3,
#: json-mock v1.3.8). The spaceships need `curl`, which json-mock has.
DEATHSTAR_IMAGE = ("quay.io/cilium/starwars@sha256:"
                   "896dc536ec505778c03efedb73c3b7b83c8de11e74264c8c35291ff6d5fe8ada")
SPACESHIP_IMAGE = ("quay.io/cilium/json-mock:v1.3.8@sha256:"
                   "5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603")

DEATHSTAR = "deathstar"
DEATHSTAR_REPLICAS = 2
DEATHSTAR_PORT = 80
DEATHSTAR_SELECTOR: Mapping[str, str] = {"org": "empire", "class": "deathstar"}
DEATHSTAR_LABELS: Mapping[str, str] = {**DEATHSTAR_SELECTOR, "app.kubernetes.io/name": DEATHSTAR}

#: Label that marks the demo namespace, so `verify --kubeconfig` can find it without a stack.
NAMESPACE_MARKER = ("app.kubernetes.io/part-of", "cilium-eks-star-wars-demo")

#: One policy object whatever the stage: moving l3l4 -> l7 updates it in place instead of
#: deleting one policy and creating another (which would briefly leave deathstar open).
POLICY_NAME = "deathstar-ingress"

LANDING_PATH = "/v1/request-landing"
EXHAUST_PORT_PATH = "/v1/exhaust-port"
LANDED_ANSWER = "Ship landed"
#: What Cilium's Envoy answers (HTTP 403) to a request an L7 rule does not allow.
DENIED_ANSWER = "Access denied"


@dataclass(frozen=True)
class Spaceship:
    name: str
    org: str

    @property
    def labels(self) -> dict[str, str]:
        return {"org": self.org, "class": self.name, "app.kubernetes.io/name": self.name}


TIEFIGHTER = Spaceship("tiefighter", "empire")
XWING = Spaceship("xwing", "alliance")
SPACESHIPS = (TIEFIGHTER, XWING)
#: Container name of both spaceship pods, as upstream.
SPACESHIP_CONTAINER = "spaceship"


def demo_namespace(name_prefix: str) -> str:
    """``<project>-<stack>-demo``: follows the project's naming rule. A namespace only has
    to be unique per cluster, and each stack has its own cluster, but a derived name also
    stays unique if two stacks ever share one, and says which stack created it."""
    return f"{name_prefix}-demo"


#: Pod Security Standard the namespace enforces: every demo pod meets `restricted` (see
#: ``pod_security_context``), so the API server refuses any pod in it that would not.
POD_SECURITY_LEVEL = "restricted"


def namespace_labels() -> dict[str, str]:
    return {NAMESPACE_MARKER[0]: NAMESPACE_MARKER[1], "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL}


# --------------------------------------------------------------------------------------
# Hardening: what the upstream images allow without changing what the demo answers
# --------------------------------------------------------------------------------------
# Upstream runs both images as root with no securityContext. What they do (read at the pinned
# versions):
# - starwars v2.3 (cilium/starwars-docker, Dockerfile at tag v2.3, commit 911f062): a static Go
#   binary on `scratch`, no USER, ENTRYPOINT `/starwars-docker --port 80 --host 0.0.0.0`; it writes
#   no file (restapi/configure_deathstar.go only answers requests). Any UID can run it (go build
#   output is 0755) and the root filesystem can be read-only.
# - json-mock v1.3.8 (cilium/json-mock, tag v1.3.8, commit c597f9f): node:21.5.0-slim, no USER,
#   ENTRYPOINT `bash /run.sh`, which execs `tini -- json-server --host "" --port 80 --watch
#   /default.json`. json-server 0.17.4 (src/cli/run.js, src/cli/utils/load.js) only reads
#   /default.json at start and watches `/` with fs.watch; it writes the file only on a POST, PUT,
#   PATCH or DELETE to its own API (src/server/router/plural.js), which the demo never sends (the
#   spaceships only run `curl` against deathstar). The files it runs are world-readable (run.sh,
#   default.json and middleware.js are 0644 in the repository, the rest comes from apt and npm),
#   so any UID can run it with a read-only root filesystem.
# Both servers bind port 80. A non-root process may only bind it with CAP_NET_BIND_SERVICE, which
# Kubernetes does not raise into the effective set of a non-root process (no ambient capabilities:
# kubernetes/kubernetes#56374, still open; the images set no file capability); the pod's own network
# namespace instead lowers `net.ipv4.ip_unprivileged_port_start` to 80 (a per-network-namespace
# sysctl, Linux 4.11 commit 4548b68; in the kubelet's safe set, pkg/kubelet/sysctl/safe_sysctls.go,
# so no node flag is needed; allowed by the Baseline and Restricted Pod Security Standards). Ports
# 80 and above are then unprivileged in these pods only; nothing else on the node changes.

#: Non-root UID/GID of every demo container. Neither image defines a user it needs (the scratch
#: image has no /etc/passwd); 65532 is above any UID a node image allocates, so it maps to no
#: user of the host either.
DEMO_UID = 65532
UNPRIVILEGED_PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"


def pod_security_context() -> PodSecurityContextArgsDict:
    """Pod-level: non-root, the runtime's default seccomp profile, and port 80 bindable without
    privileges (see above)."""
    return {
        "run_as_non_root": True,
        "run_as_user": DEMO_UID,
        "run_as_group": DEMO_UID,
        "seccomp_profile": {"type": "RuntimeDefault"},
        "sysctls": [{"name": UNPRIVILEGED_PORT_SYSCTL, "value": str(DEATHSTAR_PORT)}],
    }


def container_security_context() -> SecurityContextArgsDict:
    """Container-level: no capability at all, no privilege escalation, a read-only root filesystem."""
    return {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _tcp_probe(period_seconds: int, failure_threshold: int) -> ProbeArgsDict:
    # A TCP connect, not an HTTP request: the servers log nothing and answer nothing for it, so
    # every request the recipe's probes see (and deathstar's "exploding" PUT) stays the recipe's.
    # The kubelet connects from the node, which Cilium lets reach local pods whatever their
    # policy: its allow-localhost "auto" (the chart sets no other) becomes "always" when the agent
    # runs with Kubernetes ("Kubernetes demands that the localhost can always reach local pods",
    # cilium/cilium daemon/cmd, code index id 10581384452).
    return {"tcp_socket": {"port": DEATHSTAR_PORT}, "period_seconds": period_seconds, "timeout_seconds": 2,
            "failure_threshold": failure_threshold}


def readiness_probe() -> ProbeArgsDict:
    """Ready once the server accepts connections on port 80 (both images serve there)."""
    return _tcp_probe(period_seconds=5, failure_threshold=3)


def liveness_probe() -> ProbeArgsDict:
    """Restarted only after 30 s without accepting connections; a slow start is not a failure
    (a node.js server starts in a few seconds, far within it)."""
    return _tcp_probe(period_seconds=10, failure_threshold=3)


#: Requests and limits per container. deathstar is a small static Go HTTP server; a spaceship is
#: a node.js json-server (most of its memory is node itself) that idles while `kubectl exec` runs
#: curl in it, which counts against the same limits. The requests are what they use at rest; the
#: limits are several times that, so that they only stop a leak from starving the node (an
#: OOM-killed spaceship would fail the recipe's next probe), and give node.js room to start.
DEATHSTAR_RESOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "requests": MappingProxyType({"cpu": "10m", "memory": "16Mi"}),
    "limits": MappingProxyType({"cpu": "200m", "memory": "64Mi"}),
})
SPACESHIP_RESOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "requests": MappingProxyType({"cpu": "10m", "memory": "64Mi"}),
    "limits": MappingProxyType({"cpu": "500m", "memory": "256Mi"}),
})


def _resources(spec: Mapping[str, Mapping[str, str]]) -> ResourceRequirementsArgsDict:
    return {"requests": dict(spec["requests"]), "limits": dict(spec["limits"])}


def _container(name: str, image: str, resources: Mapping[str, Mapping[str, str]]) -> ContainerArgsDict:
    return {
        "name": name,
        "image": image,
        "resources": _resources(resources),
        "readiness_probe": readiness_probe(),
        "liveness_probe": liveness_probe(),
        "security_context": container_security_context(),
    }


def deathstar_service_spec() -> ServiceSpecArgsDict:
    return {
        "type": "ClusterIP",
        "ports": [{"port": DEATHSTAR_PORT}],
        "selector": dict(DEATHSTAR_SELECTOR),
    }


def deathstar_deployment_spec() -> DeploymentSpecArgsDict:
    return {
        "replicas": DEATHSTAR_REPLICAS,
        "selector": {"match_labels": dict(DEATHSTAR_SELECTOR)},
        "template": {
            "metadata": {"labels": dict(DEATHSTAR_LABELS)},
            "spec": {
                "containers": [_container(DEATHSTAR, DEATHSTAR_IMAGE, DEATHSTAR_RESOURCES)],
                "security_context": pod_security_context(),
                # Neither app talks to the Kubernetes API.
                "automount_service_account_token": False,
            },
        },
    }


def spaceship_pod_spec() -> PodSpecArgsDict:
    return {
        "containers": [_container(SPACESHIP_CONTAINER, SPACESHIP_IMAGE, SPACESHIP_RESOURCES)],
        "security_context": pod_security_context(),
        "automount_service_account_token": False,
    }


# --------------------------------------------------------------------------------------
# CiliumNetworkPolicy per stage (camelCase, as the CRD reads it)
# --------------------------------------------------------------------------------------

_DESCRIPTIONS = {
    "l3l4": "L3-L4 policy to restrict deathstar access to empire ships only",
    "l7": "L7 policy to restrict access to specific HTTP call",
}


def policy_spec(stage: str) -> dict[str, Any] | None:
    """The CNP ``spec`` of a stage: ``None`` for ``none``; ``l3l4``: only ``org=empire``
    endpoints reach deathstar, on TCP 80; ``l7``: that, and only ``POST /v1/request-landing``."""
    if stage not in POLICY_STAGES:
        raise ValueError(f"demo policy stage must be one of {POLICY_STAGES}, not {stage!r}")
    if stage == "none":
        return None
    to_port: dict[str, Any] = {"ports": [{"port": str(DEATHSTAR_PORT), "protocol": "TCP"}]}
    if stage == "l7":
        to_port["rules"] = {"http": [{"method": "POST", "path": LANDING_PATH}]}
    return {
        "description": _DESCRIPTIONS[stage],
        "endpointSelector": {"matchLabels": dict(DEATHSTAR_SELECTOR)},
        "ingress": [{"fromEndpoints": [{"matchLabels": {"org": "empire"}}], "toPorts": [to_port]}],
    }


def policy_manifest(stage: str, namespace: str) -> dict[str, Any] | None:
    """The complete CiliumNetworkPolicy object of a stage (what the API server stores)."""
    spec = policy_spec(stage)
    if spec is None:
        return None
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": POLICY_NAME, "namespace": namespace},
        "spec": spec,
    }


def stage_of_policy(spec: Mapping[str, Any] | None) -> str | None:
    """Which stage a live policy ``spec`` is (``none`` for no policy), or ``None`` when it
    matches no stage, e.g. after an edit by hand."""
    if spec is None:
        return "none"
    for stage in POLICY_STAGES[1:]:
        if _normalise(spec) == _normalise(policy_spec(stage)):
            return stage
    return None


def _normalise(value: Any) -> Any:
    # The API server may add empty defaults; compare only what is set.
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# The recipe's probes and what each stage must answer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request of the recipe: ``ship`` sends ``method path`` to deathstar."""

    name: str
    ship: Spaceship
    method: str
    path: str

    def curl(self, namespace: str, max_time: int) -> list[str]:
        url = f"http://{DEATHSTAR}.{namespace}.svc.cluster.local{self.path}"
        return ["curl", "-s", "--max-time", str(max_time), "-X", self.method, url]


LANDING_TIEFIGHTER = Probe("tiefighter-landing", TIEFIGHTER, "POST", LANDING_PATH)
LANDING_XWING = Probe("xwing-landing", XWING, "POST", LANDING_PATH)
EXHAUST_TIEFIGHTER = Probe("tiefighter-exhaust-port", TIEFIGHTER, "PUT", EXHAUST_PORT_PATH)

#: Expected outcome per stage and probe: an answer containing the text, "timeout" (the
#: policy drops the packets), or no entry (not probed at that stage: without an L7 rule
#: PUT /v1/exhaust-port "explodes" the deathstar, which proves nothing about Cilium).
EXPECTED: Mapping[str, Mapping[str, str]] = {
    "none": {LANDING_TIEFIGHTER.name: LANDED_ANSWER, LANDING_XWING.name: LANDED_ANSWER},
    "l3l4": {LANDING_TIEFIGHTER.name: LANDED_ANSWER, LANDING_XWING.name: "timeout"},
    "l7": {LANDING_TIEFIGHTER.name: LANDED_ANSWER, LANDING_XWING.name: "timeout",
           EXHAUST_TIEFIGHTER.name: DENIED_ANSWER},
}
PROBES = (LANDING_TIEFIGHTER, LANDING_XWING, EXHAUST_TIEFIGHTER)
