"""Which resource must exist before which: the ordering rules and the one dependency walker.

The offline plan ("why this order"), the policy pack (``nodes-join-after-cilium``,
``vpc-cni-disabled``) and the tests all decide order with :func:`check_ordering` over a
:class:`DependencyGraph`; each builds the graph from what it sees (the mock engine's
recorded waits, CrossGuard's dependencies) and words the findings its own way.

A resource cannot be created before: its own direct waits (data, ``depends_on``, provider,
resources passed by reference), and everything its ancestor components were told to wait
for. Waiting for a component means waiting for everything inside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .aws_node import AWS_NODE, DISABLE_SELECTOR, KUBE_PROXY, NAMESPACE
from .cilium import CHART, chart_name, get_path
from .karpenter import CHART_NAME as KARPENTER_CHART
from .karpenter import CRD_CHART_NAME as KARPENTER_CRD_CHART
from .karpenter import NODECLASS_TYPE as KARPENTER_NODECLASS
from .karpenter import NODEPOOL_TYPE as KARPENTER_NODEPOOL
from .operator_iam import GC_TAG_CLUSTER_NAME

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_CLUSTER_COMPONENT = "eks:index:Cluster"
DAEMONSET_PATCH = "kubernetes:apps/v1:DaemonSetPatch"
COMMANDS = frozenset({"command:local:Command", "command:remote:Command"})
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
SERVICE = "kubernetes:core/v1:Service"
SUBNET = "aws:ec2/subnet:Subnet"
#: Resources that are a group of Kubernetes nodes, managed (EKS) or self-managed (an ASG).
NODE_GROUP_TYPES = frozenset({
    "eks:index:ManagedNodeGroup",
    "eks:index:NodeGroup",
    "eks:index:NodeGroupV2",
    "aws:eks/nodeGroup:NodeGroup",
    AUTOSCALING_GROUP,
})


@dataclass(frozen=True)
class Resource:
    """A resource as the ordering rules see it: its inputs (camelCase, as the engine has them)."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None


class DependencyGraph:
    """Resources, their parents and their direct waits (URN -> URNs it waits for)."""

    def __init__(self, resources: Iterable[Resource], direct: Mapping[str, Iterable[str]]) -> None:
        self.resources: dict[str, Resource] = {r.urn: r for r in resources}
        self.direct: dict[str, frozenset[str]] = {u: frozenset(d) for u, d in direct.items()}
        self._children: dict[str, list[str]] = {}
        for r in self.resources.values():
            if r.parent is not None:
                self._children.setdefault(r.parent, []).append(r.urn)
        self._effective: dict[str, frozenset[str]] = {}

    def children(self, urn: str) -> list[Resource]:
        return [self.resources[u] for u in self._children.get(urn, [])]

    def descendants(self, urn: str) -> list[Resource]:
        out: list[Resource] = []
        todo = [urn]
        seen = {urn}
        while todo:
            for kid in self._children.get(todo.pop(), []):
                if kid not in seen:
                    seen.add(kid)
                    out.append(self.resources[kid])
                    todo.append(kid)
        return out

    def ancestors(self, urn: str) -> list[Resource]:
        out: list[Resource] = []
        parent = self.resources[urn].parent if urn in self.resources else None
        while parent is not None and parent in self.resources and all(a.urn != parent for a in out):
            out.append(self.resources[parent])
            parent = self.resources[parent].parent
        return out

    def effective_dependencies(self, urn: str) -> frozenset[str]:
        """What must exist before ``urn`` is created, one step back."""
        if urn not in self._effective:
            deps: set[str] = set()
            for owner in [urn, *(a.urn for a in self.ancestors(urn))]:
                for d in self.direct.get(owner, ()):
                    deps.add(d)
                    deps.update(x.urn for x in self.descendants(d))
            self._effective[urn] = frozenset(deps)
        return self._effective[urn]

    def waits_for(self, urn: str, other: str) -> bool:
        """True when ``urn`` cannot be created before ``other`` exists (transitively)."""
        seen: set[str] = set()
        todo = [urn]
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            deps = self.effective_dependencies(cur)
            if other in deps:
                return True
            todo += [d for d in deps if d not in seen]
        return False


# --------------------------------------------------------------------------------------
# Roles: what a resource is, from its type and inputs (never from its name)
# --------------------------------------------------------------------------------------


def is_cilium_release(r: Resource) -> bool:
    return r.type == HELM_RELEASE and chart_name(r.props.get("chart")) == CHART


def is_eks_control_plane(r: Resource) -> bool:
    return r.type == EKS_CLUSTER


def disabled_daemonset(r: Resource) -> str | None:
    """The kube-system DaemonSet (aws-node or kube-proxy) this resource takes out of the way:
    a patch with the nodeSelector no node carries, or a command that deletes it."""
    targets = (AWS_NODE, KUBE_PROXY)
    if r.type == DAEMONSET_PATCH:
        name = get_path(r.props, "metadata.name")
        selector = get_path(r.props, "spec.template.spec.nodeSelector")
        if (name in targets and get_path(r.props, "metadata.namespace") == NAMESPACE and isinstance(selector, Mapping)
                and all(selector.get(k) == v for k, v in DISABLE_SELECTOR.items())):
            return str(name)
        return None
    if r.type in COMMANDS:
        script = r.props.get("create")
        env = r.props.get("environment")
        texts = [script, *(env.values() if isinstance(env, Mapping) else ())]
        words = " ".join(t for t in texts if isinstance(t, str))
        if isinstance(script, str) and re.search(r"\bdelete\s+(daemonsets?|ds)(\.apps)?\b", script):
            return next((t for t in targets if re.search(rf"\b{t}\b", words)), None)
    return None


def is_aws_node_removal(r: Resource) -> bool:
    return disabled_daemonset(r) is not None


def _has_cluster_tag(props: Mapping[str, Any]) -> bool:
    tags = props.get("tags")
    if isinstance(tags, Mapping):
        names = [str(k) for k in tags]
    elif isinstance(tags, Sequence) and not isinstance(tags, str):
        names = [str(t.get("key", "")) for t in tags if isinstance(t, Mapping)]
    else:
        names = []
    return any(n.startswith("kubernetes.io/cluster/") for n in names)


def node_groups(graph: DependencyGraph) -> list[Resource]:
    """The outermost node-group resources, without pulumi-eks default node groups (its
    own rule reports those). An ASG counts when it carries EKS's ``kubernetes.io/cluster/``
    tag (self-managed nodes must)."""
    out: list[Resource] = []
    for r in graph.resources.values():
        if r.type not in NODE_GROUP_TYPES:
            continue
        ancestors = graph.ancestors(r.urn)
        if any(a.type in NODE_GROUP_TYPES for a in ancestors):
            continue
        if ancestors and ancestors[0].type == EKS_CLUSTER_COMPONENT:
            continue
        if r.type == AUTOSCALING_GROUP and not _has_cluster_tag(r.props):
            continue
        out.append(r)
    return sorted(out, key=lambda r: r.urn)


def installs_aws_node(graph: DependencyGraph) -> bool:
    """False when the EKS cluster is created without EKS's self-managed add-ons
    (``bootstrapSelfManagedAddons: false`` on the cluster or its pulumi-eks component): then
    there is no aws-node to disable. (A component may arrive without its inputs; the cluster
    pulumi-eks creates inside it carries the setting.)"""
    clusters = [r for r in graph.resources.values() if r.type in (EKS_CLUSTER, EKS_CLUSTER_COMPONENT)]
    return not any(r.props.get("bootstrapSelfManagedAddons") is False for r in clusters)


def is_eni_cleanup(r: Resource) -> bool:
    """The destroy-time step that deletes the ENIs cilium-operator left (components/eni_cleanup.py),
    recognised by the tag it filters on."""
    env = r.props.get("environment")
    return r.type in COMMANDS and isinstance(env, Mapping) and env.get("CLUSTER_TAG") == GC_TAG_CLUSTER_NAME


def is_load_balancer_service(r: Resource) -> bool:
    return r.type == SERVICE and get_path(r.props, "spec.type") == "LoadBalancer"


def is_karpenter_release(r: Resource) -> bool:
    return r.type == HELM_RELEASE and chart_name(r.props.get("chart")) == KARPENTER_CHART


def is_karpenter_crd_release(r: Resource) -> bool:
    return r.type == HELM_RELEASE and chart_name(r.props.get("chart")) == KARPENTER_CRD_CHART


def _of(test: Callable[[Resource], bool]) -> Callable[[DependencyGraph], list[Resource]]:
    return lambda g: sorted((r for r in g.resources.values() if test(r)), key=lambda r: r.urn)


ROLES: Mapping[str, Callable[[DependencyGraph], list[Resource]]] = {
    "cilium-release": _of(is_cilium_release),
    "eks-control-plane": _of(is_eks_control_plane),
    "aws-node-removal": _of(is_aws_node_removal),
    "node-group": node_groups,
    "eni-cleanup": _of(is_eni_cleanup),
    "subnet": _of(lambda r: r.type == SUBNET),
    "load-balancer-service": _of(is_load_balancer_service),
    "karpenter-crds": _of(is_karpenter_crd_release),
    "karpenter-release": _of(is_karpenter_release),
    "karpenter-nodeclass": _of(lambda r: r.type == KARPENTER_NODECLASS),
    "karpenter-nodepool": _of(lambda r: r.type == KARPENTER_NODEPOOL),
}


# --------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderingRule:
    """Every resource of role ``later`` waits for every resource of role ``earlier``
    (``each=True``) or for at least one of them (``each=False``). Creation follows the waits and
    destruction runs them backwards, so a rule orders both. With ``optional``, a stack without
    either role has nothing to check (an adopted VPC has no subnets of its own)."""

    name: str
    later: str
    earlier: str
    why: str
    fix: str
    each: bool = True
    optional: bool = False


ORDERING_RULES: tuple[OrderingRule, ...] = (
    OrderingRule(
        "cilium-after-control-plane", "cilium-release", "eks-control-plane",
        why="Helm needs the API server to install the chart",
        fix="install Cilium with the cluster's Kubernetes provider (components/cilium.py)"),
    OrderingRule(
        "cilium-after-aws-node-removal", "cilium-release", "aws-node-removal",
        why="what Cilium replaces (aws-node, and kube-proxy with kube-proxy replacement) must be out of the way "
            "before the first Cilium agent starts, or both CNIs configure the same nodes and ENIs",
        fix="pass the AwsNodeRemoval component's `done` resources to the release (CiliumArgs.cni_removed in "
            "components/cilium.py)"),
    OrderingRule(
        "nodes-after-cilium", "node-group", "cilium-release",
        why="nodes that join with Cilium installed keep the node.cilium.io/agent-not-ready taint until their "
            "agent runs, so every pod starts on Cilium and nothing needs the recipe's manual restart",
        fix="pass the release to the node group as depends_on (NodeGroupArgs.cilium_release in "
            "components/node_group.py)",
        each=False),
    OrderingRule(
        "nodes-after-eni-cleanup", "node-group", "eni-cleanup",
        why="on destroy the ENI cleanup then runs once no node (and no cilium-operator) is left to create or "
            "reclaim ENIs, and deletes those left available before their subnets are deleted",
        fix="declare the EniCleanup component and pass its command to every NodeGroup as `after`"),
    OrderingRule(
        "eni-cleanup-after-subnets", "eni-cleanup", "subnet",
        why="on destroy the ENI cleanup runs before the subnets are deleted, which an ENI left available "
            "would block with DependencyViolation",
        fix="pass the Network's subnets to EniCleanupArgs.subnets", optional=True),
    OrderingRule(
        "load-balancers-after-nodes", "load-balancer-service", "node-group",
        why="on destroy a LoadBalancer Service goes first, while the nodes and the cluster that delete its "
            "load balancer still exist; its load balancer's ENIs would otherwise block the subnets",
        fix="make the Service depend on the node groups (HubbleUiArgs.nodes)", optional=True),
    OrderingRule(
        "karpenter-release-after-nodes", "karpenter-release", "node-group",
        why="the Karpenter controller runs on the managed nodes, which exist only once Cilium does; on destroy "
            "it goes before them, so it still runs while its own nodes are drained and terminated",
        fix="pass the node groups to the Karpenter component (KarpenterArgs.nodes in components/karpenter.py)",
        optional=True),
    OrderingRule(
        "karpenter-release-after-crds", "karpenter-release", "karpenter-crds",
        why="the controller watches NodePools and EC2NodeClasses from its first second, and the CRD chart is "
            "the one Helm upgrades; on destroy the CRDs (and every object of them) go last",
        fix="install the karpenter-crd chart first and make the controller release depend on it "
            "(components/karpenter.py)", optional=True),
    OrderingRule(
        "nodeclasses-after-karpenter-release", "karpenter-nodeclass", "karpenter-release",
        why="an EC2NodeClass's finalizer waits for its nodes and deletes its launch templates: the controller "
            "must still run when it is deleted",
        fix="make the EC2NodeClass depend on the Karpenter release (components/karpenter.py)", optional=True),
    OrderingRule(
        "nodepools-after-karpenter-release", "karpenter-nodepool", "karpenter-release",
        why="on destroy the NodePools go first and Karpenter, still running, drains and terminates their "
            "nodes (their NodeClaims block the NodePool's foreground deletion) before the release, the node "
            "groups and the cluster go: no orphaned instance, no leaked ENI",
        fix="make every NodePool depend on the Karpenter release (components/karpenter.py)", optional=True),
    OrderingRule(
        "nodepools-after-nodeclasses", "karpenter-nodepool", "karpenter-nodeclass",
        why="a NodePool launches nodes from its EC2NodeClass; on destroy the class outlives the nodes it made",
        fix="make every NodePool depend on its EC2NodeClass (components/karpenter.py)", each=False,
        optional=True),
)
RULES_BY_NAME: Mapping[str, OrderingRule] = {r.name: r for r in ORDERING_RULES}


@dataclass(frozen=True)
class OrderingFinding:
    """One later resource against one earlier one; ``earlier`` is None when the graph has
    no resource of the earlier role, ``later`` None when it has none of the later role."""

    rule: OrderingRule
    later: Resource | None
    earlier: Resource | None
    ok: bool


def check_ordering(graph: DependencyGraph, rules: Sequence[OrderingRule] = ORDERING_RULES) -> list[OrderingFinding]:
    out: list[OrderingFinding] = []
    for rule in rules:
        if rule.earlier == "aws-node-removal" and not installs_aws_node(graph):
            continue
        laters = ROLES[rule.later](graph)
        earliers = ROLES[rule.earlier](graph)
        if rule.optional and not (laters and earliers):
            continue
        if not laters:
            out.append(OrderingFinding(rule, None, earliers[0] if earliers else None, False))
        for later in laters:
            if not earliers:
                out.append(OrderingFinding(rule, later, None, False))
                continue
            found = [OrderingFinding(rule, later, e, graph.waits_for(later.urn, e.urn)) for e in earliers]
            if rule.each:
                out += found
            else:
                out.append(next((f for f in found if f.ok), found[0]))
    return out
