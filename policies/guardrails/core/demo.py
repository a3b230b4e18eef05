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
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:  # only the TypedDicts; verify must not need the Pulumi SDK at run time
    from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
    from pulumi_kubernetes.core.v1 import PodSpecArgsDict, ServiceSpecArgsDict

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


def namespace_labels() -> dict[str, str]:
    # The upstream pods run as root without a securityContext: `baseline` admits them and
    # still refuses privileged pods, host namespaces and hostPath in the demo namespace.
    return {NAMESPACE_MARKER[0]: NAMESPACE_MARKER[1], "pod-security.kubernetes.io/enforce": "baseline"}


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
                "containers": [{"name": DEATHSTAR, "image": DEATHSTAR_IMAGE}],
                # Neither app talks to the Kubernetes API.
                "automount_service_account_token": False,
            },
        },
    }


def spaceship_pod_spec() -> PodSpecArgsDict:
    return {
        "containers": [{"name": SPACESHIP_CONTAINER, "image": SPACESHIP_IMAGE}],
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
