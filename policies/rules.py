"""The Cilium-on-EKS guardrails: one validator function per rule, and the policies built
from them. Importing this module starts nothing; ``policies/__main__.py`` hands
:func:`build_policies` to a ``PolicyPack`` when the engine runs the pack.

How CrossGuard sees this program (facts the rules rely on; sources in policies/README.md):

* Resource policies run for every resource the engine registers, *before* it is created,
  with its inputs (camelCase). The children that pulumi-eks's provider registers for a
  remote component (``aws:eks/cluster:Cluster``, ``aws:eks/nodeGroup:NodeGroup``, add-ons,
  a default node group) are analysed like any other resource.
* A component reaches the analyzer with the properties *its registrant* sent. pulumi-eks
  components are registered by its Node.js provider, whose ``ComponentResource`` sends no
  properties: ``eks:index:Cluster`` arrives with empty ``props``. Rules therefore read the
  custom resources the component creates, and use component inputs only when present.
* Stack policies run once all resources are registered (at the end of a preview, or of an
  update), with every resource's *outputs*, parent, dependencies and property
  dependencies; they are the only place relationships between resources are visible.
* A policy's enforcement level is fixed for a run (per policy, overridable by the pack
  config's ``enforcementLevel``); a validator cannot choose it per violation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from cilium_eks.cilium_values import (
    AGENT_NOT_READY_TAINT,
    AWS_NODE_DISABLE_SELECTOR,
    CILIUM_CHART,
    CILIUM_NAMESPACE,
    OPERATOR_ACTIONS_ALWAYS,
    OPERATOR_ACTIONS_CONDITIONAL,
    OPERATOR_SERVICE_ACCOUNT,
)
from cilium_eks.config import DEFAULT_CILIUM_VERSION, REMOVED_CILIUM_VALUES, parse_version
from policies.props import (
    UNKNOWN,
    Deferred,
    as_list,
    chart_name,
    elements,
    explain,
    flatten,
    get,
    json_document,
    keys,
    path,
    plain,
    settings,
    undecidable,
    urn_name,
    urn_type,
    world_open,
)

PACK_NAME = "cilium-eks-guardrails"

# --------------------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------------------

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_CLUSTER_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_ADDON = "aws:eks/addon:Addon"
EKS_VPC_CNI_ADDON = "eks:index:VpcCniAddon"
DAEMONSET_PATCH = "kubernetes:apps/v1:DaemonSetPatch"
COMMANDS = frozenset({"command:local:Command", "command:remote:Command"})
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"

#: Resources that are a group of Kubernetes nodes, managed (EKS) or self-managed (an ASG).
NODE_GROUP_TYPES = frozenset({
    "eks:index:ManagedNodeGroup",
    "eks:index:NodeGroup",
    "eks:index:NodeGroupV2",
    "aws:eks/nodeGroup:NodeGroup",
    AUTOSCALING_GROUP,
})

#: The kube-system DaemonSet of the AWS VPC CNI.
AWS_NODE = "aws-node"
AWS_NODE_NAMESPACE = "kube-system"

#: What a hubble-ui Service selects (the chart's hubble-ui Deployment pod label).
HUBBLE_UI_SELECTOR = ("k8s-app", "hubble-ui")

#: Every EC2 action cilium-operator can need in ENI mode (Cilium docs, "Required Privileges").
OPERATOR_ALLOWED_ACTIONS: tuple[str, ...] = tuple(sorted(
    {*OPERATOR_ACTIONS_ALWAYS, *(a for group in OPERATOR_ACTIONS_CONDITIONAL.values() for a in group)}))

PRODUCTION = "production"


# --------------------------------------------------------------------------------------
# Stack context: decides what "production" means for this run
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackContext:
    """What the pack knows about the stack it runs for, before it sees any resource.

    ``environment`` is the program's own ``<project>:environment`` config value (the same
    value the program writes into the cluster's ``environment`` tag). The engine passes a
    policy pack the stack's config in ``PULUMI_CONFIG`` (and ``PULUMI_PROJECT``,
    ``PULUMI_STACK``), so it is known when the pack starts. When it cannot be read, the
    stack is treated as production: strict by default.
    """

    project: str | None = None
    stack: str | None = None
    environment: str | None = None

    @property
    def production(self) -> bool:
        return self.environment is None or self.environment == PRODUCTION

    @classmethod
    def from_config(cls, project: str | None, stack: str | None, config: Mapping[str, Any]) -> StackContext:
        env = config.get(f"{project}:environment") if project else None
        return cls(project=project, stack=stack, environment=str(env) if isinstance(env, str) else None)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StackContext:
        environ = os.environ if environ is None else environ
        try:
            config = json.loads(environ.get("PULUMI_CONFIG") or "{}")
        except ValueError:
            config = {}
        return cls.from_config(environ.get("PULUMI_PROJECT"), environ.get("PULUMI_STACK"),
                               config if isinstance(config, dict) else {})


# --------------------------------------------------------------------------------------
# Shared recognisers
# --------------------------------------------------------------------------------------


def is_cilium_release(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Helm release of the Cilium chart, recognised by its chart, never by its name."""
    return resource_type == HELM_RELEASE and chart_name(get(props, "chart")) == CILIUM_CHART


def _release_label(name: str, props: Mapping[str, Any]) -> str:
    release = get(props, "name")
    return f"Cilium release `{release if isinstance(release, str) else name}` ({name})"


def _effect_is_no_execute(effect: Any) -> bool:
    return isinstance(effect, str) and effect.replace("_", "").lower() == "noexecute"


def _taints_in_text(text: str) -> list[tuple[str, str]]:
    """(key, effect) pairs from ``--register-with-taints=k=v:Effect,...`` in a kubelet
    command line or user data."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"--register-with-taints[= ]['\"]?([^\s'\"]+)", text):
        for spec in m[1].split(","):
            key_value, _, effect = spec.partition(":")
            out.append((key_value.split("=", 1)[0], effect))
    return out


def _declared_taints(props: Mapping[str, Any]) -> list[tuple[str, str]] | Any:
    """Taints a node-group-like resource declares: a list of {key, value, effect} (EKS and
    pulumi-eks managed node groups), a map key -> {value, effect} (pulumi-eks self-managed
    node groups), kubelet arguments, or launch-template user data. ``UNKNOWN`` if unknown."""
    out: list[tuple[str, str]] = []
    taints = get(props, "taints")
    if taints is UNKNOWN:
        return UNKNOWN
    if isinstance(taints, Mapping):
        for k in keys(taints):
            out.append((k, str(get(get(taints, k), "effect", ""))))
    for t in elements(taints):
        out.append((str(get(t, "key", "")), str(get(t, "effect", ""))))
    for text_key in ("kubeletExtraArgs", "bootstrapExtraArgs", "userData"):
        text = get(props, text_key)
        if not isinstance(text, str):
            continue
        if text_key == "userData":
            with contextlib.suppress(binascii.Error, ValueError):  # plain-text user data
                text = base64.b64decode(text, validate=True).decode("utf-8", "replace")
        out += _taints_in_text(text)
    return out


def _hubble_ui_exposure(annotations: Any) -> str | None:
    """``None`` when a Service's load balancer is internal, else why it is internet-facing.
    The AWS Load Balancer Controller reads ``aws-load-balancer-scheme``; the in-tree cloud
    provider reads ``aws-load-balancer-internal`` and defaults to internet-facing."""
    scheme = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-scheme")
    if isinstance(scheme, str):
        return None if scheme == "internal" else f"aws-load-balancer-scheme is `{scheme}`"
    internal = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-internal")
    if isinstance(internal, str) and internal.lower() in ("true", "0.0.0.0/0"):
        return None
    if internal is True:
        return None
    return "neither aws-load-balancer-scheme: internal nor aws-load-balancer-internal: \"true\" is set"


def _is_hubble_ui_service(props: Mapping[str, Any]) -> bool:
    if get(path(props, "spec.selector"), HUBBLE_UI_SELECTOR[0]) == HUBBLE_UI_SELECTOR[1]:
        return True
    name = path(props, "metadata.name")
    if isinstance(name, str) and name.startswith("hubble-ui"):
        return True
    return get(path(props, "metadata.labels"), "app.kubernetes.io/name") == "hubble-ui"


# --------------------------------------------------------------------------------------
# Config schemas (production-strict defaults)
# --------------------------------------------------------------------------------------

ENI_MODE_SCHEMA = PolicyConfigSchema(properties={
    "removedValues": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Helm value paths refused in addition to those the pinned chart removed "
                       "(cilium_eks.config.REMOVED_CILIUM_VALUES).",
    },
    "allowValueYamlFiles": {
        "type": "boolean", "default": False,
        "description": "Allow values from valueYamlFiles, which this pack cannot inspect.",
    },
})

VERSION_SCHEMA = PolicyConfigSchema(properties={
    "minimumVersion": {
        "type": "string", "pattern": r"^\d+\.\d+\.\d+$", "default": DEFAULT_CILIUM_VERSION,
        "description": "Oldest Cilium chart version allowed (the version this project targets).",
    },
})

LEAST_PRIVILEGE_SCHEMA = PolicyConfigSchema(properties={
    "allowedActions": {
        "type": "array", "items": {"type": "string"}, "default": list(OPERATOR_ALLOWED_ACTIONS),
        "description": "The only IAM actions cilium-operator's role may be granted "
                       "(default: the EC2 actions of Cilium's ENI documentation).",
    },
})

HUBBLE_SCHEMA = PolicyConfigSchema(properties={
    "requireRelay": {"type": "boolean", "default": True, "description": "Require hubble.relay.enabled."},
    "requireUi": {"type": "boolean", "default": True, "description": "Require hubble.ui.enabled."},
    "requireTls": {"type": "boolean", "default": True,
                   "description": "Require hubble.tls.enabled (mTLS between relay and agents)."},
})

API_SCHEMA = PolicyConfigSchema(properties={
    "forbiddenCidrs": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "CIDRs refused in publicAccessCidrs in addition to any /0 (0.0.0.0/0, ::/0).",
    },
})

LOGS_SCHEMA = PolicyConfigSchema(properties={
    "requiredLogTypes": {
        "type": "array", "items": {"type": "string"}, "default": ["api", "audit", "authenticator"],
        "description": "Control-plane log types that must be enabled (security trail: API calls, "
                       "audit events, IAM authentication).",
    },
})


# --------------------------------------------------------------------------------------
# 1. eks-no-default-node-group
# --------------------------------------------------------------------------------------

_DEFAULT_NODE_GROUP_WHY = (
    "pulumi-eks creates the default node group together with the control plane, before Cilium "
    "is installed: its nodes start without a CNI (or on aws-node), never carry the "
    "node.cilium.io/agent-not-ready taint, and their first pods need a manual restart")
_DEFAULT_NODE_GROUP_FIX = (
    "pass skip_default_node_group=True to eks.Cluster (components/cluster.py) and declare nodes "
    "under the `cilium-eks:nodeGroups` config key; they join after Cilium")


def validate_eks_no_default_node_group(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == EKS_CLUSTER_COMPONENT:
        # Present only where the engine passes component inputs (pulumi-eks's provider does
        # not); the default node group's own resources are caught below either way.
        skip = get(args.props, "skipDefaultNodeGroup")
        if skip is None:
            return
        deferred = Deferred()
        if deferred.check(skip, "skipDefaultNodeGroup") and skip is not True:
            report_violation(explain(
                f"EKS cluster {args.name} sets skipDefaultNodeGroup to {skip!r}, so pulumi-eks adds its "
                "default node group.", _DEFAULT_NODE_GROUP_WHY, _DEFAULT_NODE_GROUP_FIX), None)
        deferred.finish()
    elif args.resource_type in NODE_GROUP_TYPES and urn_type(args.opts.parent) == EKS_CLUSTER_COMPONENT:
        report_violation(explain(
            f"{args.resource_type} {args.name} is the default node group of EKS cluster "
            f"{urn_name(args.opts.parent)}.", _DEFAULT_NODE_GROUP_WHY, _DEFAULT_NODE_GROUP_FIX), None)


# --------------------------------------------------------------------------------------
# 2. cilium-eni-mode
# --------------------------------------------------------------------------------------


def validate_cilium_eni_mode(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    cfg = settings(args.get_config(), ENI_MODE_SCHEMA)
    label = _release_label(args.name, args.props)
    deferred = Deferred()
    values = get(args.props, "values", {})
    if values is UNKNOWN:
        undecidable("values")
    owned_fix = ("the program sets it in cilium_eks/cilium_values.py (cilium_values); do not override it "
                 "through `cilium-eks:ciliumExtraValues`")

    eni = path(values, "eni.enabled")
    if deferred.check(eni, "values.eni.enabled") and eni is not True:
        report_violation(explain(
            f"{label} has eni.enabled={eni!r}; it must be true.",
            "without it Cilium runs cluster-pool IPAM with overlay addresses: pods get no VPC IPs, AWS "
            "security groups and VPC routing no longer see them, and the operator's ENI role is unused",
            owned_fix), None)
    mode = path(values, "ipam.mode")
    if deferred.check(mode, "values.ipam.mode") and mode != "eni":
        report_violation(explain(
            f"{label} has ipam.mode={mode!r}; it must be `eni`.",
            "the agent and operator then disagree on who allocates pod IPs: ENI IPAM needs ipam.mode eni "
            "(what `cilium install` sets on EKS)", owned_fix), None)
    routing = path(values, "routingMode")
    if deferred.check(routing, "values.routingMode") and routing != "native":
        report_violation(explain(
            f"{label} has routingMode={routing!r}; it must be `native`.",
            "pod IPs are VPC addresses in ENI mode; encapsulating them (the chart's tunnel default) breaks "
            "VPC routing to pods and halves the MTU budget", owned_fix), None)

    removed: dict[str, str] = dict(REMOVED_CILIUM_VALUES)
    for extra in cfg["removedValues"]:
        removed.setdefault(str(extra), "refused by this policy pack's config (removedValues)")
    version = get(args.props, "version")
    chart = f"chart {version}" if isinstance(version, str) and version else "the current chart"
    for key in flatten(values):
        for gone, why in removed.items():
            if key == gone or key.startswith(gone + "."):
                report_violation(explain(
                    f"{label} sets `{key}`, which {chart} no longer accepts.",
                    f"`{gone}` is {why}",
                    f"remove `{key}` from `cilium-eks:ciliumExtraValues` (or wherever the release values "
                    "are built)"), None)

    files = get(args.props, "valueYamlFiles")
    if files is not None and files is not UNKNOWN and elements(files) and not cfg["allowValueYamlFiles"]:
        report_violation(explain(
            f"{label} takes values from valueYamlFiles, which this policy pack cannot read.",
            "a file could re-enable tunnelling, switch IPAM or set a removed key and no check would see it",
            "pass every value through `values` (`cilium-eks:ciliumExtraValues`), or set this policy's "
            "allowValueYamlFiles config to true after reviewing the files"), None)
    deferred.finish()


# --------------------------------------------------------------------------------------
# 3. cilium-version-pinned
# --------------------------------------------------------------------------------------


def validate_cilium_version_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    cfg = settings(args.get_config(), VERSION_SCHEMA)
    floor_text = str(cfg["minimumVersion"])
    floor = parse_version(floor_text) or parse_version(DEFAULT_CILIUM_VERSION)
    label = _release_label(args.name, args.props)
    fix = f"pin an exact release with `pulumi config set cilium-eks:ciliumVersion {DEFAULT_CILIUM_VERSION}`"
    version = get(args.props, "version")
    if version is UNKNOWN:
        undecidable("version")
    if version is None or version == "":
        report_violation(explain(
            f"{label} pins no chart version.",
            "Helm then installs whatever the repository serves as newest at `pulumi up` time: a new "
            "Cilium minor can change ENI defaults or refuse values, on a cluster whose every pod "
            "depends on it", fix), None)
        return
    parsed = parse_version(str(version)) if isinstance(version, str) else None
    if parsed is None:
        report_violation(explain(
            f"{label} has chart version {version!r}, not an exact x.y.z release.",
            "a range or partial version lets Helm pick a different chart on every update; the ENI "
            "values and the operator's IAM actions were checked against one exact chart", fix), None)
    elif floor is not None and parsed < floor:
        report_violation(explain(
            f"{label} pins chart {version}, older than the allowed minimum {floor_text}.",
            "older charts use other ENI defaults (e.g. IPv4 masquerading) and value names than the "
            "ones this project and pack were checked against",
            f"{fix}, or lower this policy's minimumVersion config if you must roll back"), None)


# --------------------------------------------------------------------------------------
# 4. cilium-release-does-not-wait
# --------------------------------------------------------------------------------------


def validate_cilium_release_does_not_wait(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    label = _release_label(args.name, args.props)
    why = ("the release is installed before any node exists (nodes join only after Cilium), so no "
           "Cilium pod can become ready: a release that waits blocks until its timeout and fails, and "
           "the node groups that wait for it are never created (deadlock)")
    deferred = Deferred()
    skip = get(args.props, "skipAwait")
    if deferred.check(skip, "skipAwait") and skip is not True:
        state = "not set, and the provider defaults to waiting" if skip is None else repr(skip)
        report_violation(explain(
            f"{label} waits for its resources to become ready (skipAwait is {state}).", why,
            "set skip_await=True on the release (components/cilium.py); `cilium status` and the "
            "nodes' agent-not-ready taint take over the readiness check"), None)
    for flag, meaning in (("atomic", "atomic implies waiting (and a rollback when the wait times out)"),
                          ("waitForJobs", "waitForJobs waits for the chart's Jobs, which need nodes")):
        value = get(args.props, flag)
        if deferred.check(value, flag) and value is True:
            report_violation(explain(f"{label} sets {flag}: true; {meaning}.", why,
                                     f"set {flag} to false on the release (components/cilium.py)"), None)
    deferred.finish()


# --------------------------------------------------------------------------------------
# Stack view: relationships between resources (stack policies only)
# --------------------------------------------------------------------------------------


class StackView:
    """Parents, children and "waits for" over the resources of a stack policy."""

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.resources = list(resources)
        self.children: dict[str, list[PolicyResource]] = {}
        for r in self.resources:
            if r.parent is not None:
                self.children.setdefault(r.parent.urn, []).append(r)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    @staticmethod
    def ancestors(r: PolicyResource) -> list[PolicyResource]:
        out: list[PolicyResource] = []
        cur = r.parent
        while cur is not None and cur not in out:
            out.append(cur)
            cur = cur.parent
        return out

    def descendants(self, r: PolicyResource) -> list[PolicyResource]:
        out: list[PolicyResource] = []
        todo = [r]
        while todo:
            for kid in self.children.get(todo.pop().urn, []):
                if kid not in out:
                    out.append(kid)
                    todo.append(kid)
        return out

    def _direct(self, r: PolicyResource) -> set[str]:
        """What ``r`` cannot be created before: its and its ancestors' dependencies (a child
        waits for what its component waits for), a component dependency meaning everything
        inside it."""
        out: set[str] = set()
        for owner in [r, *self.ancestors(r)]:
            deps = list(owner.dependencies)
            deps += [d for ds in owner.property_dependencies.values() for d in ds]
            for d in deps:
                out.add(d.urn)
                out.update(x.urn for x in self.descendants(d))
        return out

    def waits_for(self, r: PolicyResource, other: PolicyResource) -> bool:
        by_urn = {x.urn: x for x in self.resources}
        seen: set[str] = set()
        todo = [r.urn]
        while todo:
            cur = todo.pop()
            if cur in seen or cur not in by_urn:
                continue
            seen.add(cur)
            deps = self._direct(by_urn[cur])
            if other.urn in deps:
                return True
            todo += deps
        return False

    def node_groups(self) -> list[PolicyResource]:
        """The outermost node-group resources, without pulumi-eks default node groups
        (eks-no-default-node-group reports those). An ASG counts when it carries EKS's
        ``kubernetes.io/cluster/<name>`` tag (self-managed nodes must)."""
        out: list[PolicyResource] = []
        for r in self.resources:
            if r.resource_type not in NODE_GROUP_TYPES:
                continue
            if any(a.resource_type in NODE_GROUP_TYPES for a in self.ancestors(r)):
                continue
            if r.parent is not None and r.parent.resource_type == EKS_CLUSTER_COMPONENT:
                continue
            if r.resource_type == AUTOSCALING_GROUP and not _has_cluster_tag(r.props):
                continue
            out.append(r)
        return out


def _has_cluster_tag(props: Mapping[str, Any]) -> bool:
    tags = get(props, "tags")
    names = keys(tags) if isinstance(tags, Mapping) else [str(get(t, "key", "")) for t in elements(tags)]
    return any(n.startswith("kubernetes.io/cluster/") for n in names)


def _releases(resources: Iterable[PolicyResource]) -> list[PolicyResource]:
    return [r for r in resources if is_cilium_release(r.resource_type, r.props)]


# --------------------------------------------------------------------------------------
# 5. nodes-join-after-cilium
# --------------------------------------------------------------------------------------


def validate_nodes_join_after_cilium(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    releases = _releases(view.resources)
    taint_key = AGENT_NOT_READY_TAINT["key"]
    deferred = Deferred()
    for group in view.node_groups():
        label = f"{group.resource_type} {group.name}"
        if not releases:
            report_violation(explain(
                f"{label} exists but the stack has no Cilium release (a Helm release of chart "
                f"`{CILIUM_CHART}`) for it to wait for.",
                "nodes would join a cluster without a CNI after aws-node is gone, or on aws-node",
                "install Cilium with the Cilium component (components/cilium.py) and pass its release "
                "to the node groups"), group.urn)
            continue
        if not any(view.waits_for(group, rel) for rel in releases):
            report_violation(explain(
                f"{label} does not depend on the Cilium release ({', '.join(r.name for r in releases)}), "
                "directly or through its parent component.",
                "the engine may then create nodes before Cilium: their first pods start without a CNI "
                "or on aws-node and keep the wrong network until someone restarts them",
                "pass the release to the node group as depends_on (NodeGroupArgs.cilium_release in "
                "components/node_group.py)"), group.urn)
        found: list[tuple[str, str]] = []
        for r in [group, *view.descendants(group)]:
            taints = _declared_taints(r.props)
            if taints is UNKNOWN:
                deferred.unknown(f"{r.name}.taints")
                continue
            found += taints
        if not any(k == taint_key and _effect_is_no_execute(e) for k, e in found):
            report_violation(explain(
                f"{label} does not carry the taint {taint_key}=true:NoExecute "
                f"(found: {', '.join(f'{k}:{e}' for k, e in found) or 'none'}).",
                "without it, pods are scheduled on a new node before its Cilium agent is ready and "
                "come up without Cilium networking and policy; the agent removes the taint itself once "
                "it can serve the node",
                "add taints=[AGENT_NOT_READY_TAINT] (cilium_eks/cilium_values.py) to the node group "
                "(components/node_group.py)"), group.urn)
    deferred.finish()


# --------------------------------------------------------------------------------------
# 6. vpc-cni-disabled
# --------------------------------------------------------------------------------------


def _disables_aws_node(r: PolicyResource) -> bool:
    if r.resource_type == DAEMONSET_PATCH:
        md = get(r.props, "metadata")
        selector = path(r.props, "spec.template.spec.nodeSelector")
        return (get(md, "name") == AWS_NODE and get(md, "namespace") == AWS_NODE_NAMESPACE
                and all(get(selector, k) == v for k, v in AWS_NODE_DISABLE_SELECTOR.items()))
    if r.resource_type in COMMANDS:
        script = get(r.props, "create")
        env = get(r.props, "environment")
        texts = [script] + [get(env, k) for k in keys(env)]
        words = " ".join(t for t in texts if isinstance(t, str))
        return (isinstance(script, str)
                and re.search(r"\bdelete\s+(daemonsets?|ds)(\.apps)?\b", script) is not None
                and re.search(rf"\b{AWS_NODE}\b", words) is not None)
    return False


def validate_vpc_cni_disabled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    releases = _releases(view.resources)
    for addon in view.of_type(EKS_ADDON, EKS_VPC_CNI_ADDON):
        if addon.resource_type == EKS_ADDON and get(addon.props, "addonName") != "vpc-cni":
            continue
        report_violation(explain(
            f"{addon.resource_type} {addon.name} installs the managed vpc-cni add-on.",
            "the add-on (re)installs and reconciles the aws-node DaemonSet: two CNIs then fight over the "
            "same ENIs and pod IPs on every node",
            "keep use_default_vpc_cni=True on eks.Cluster (components/cluster.py) and do not declare a "
            "vpc-cni aws.eks.Addon"), addon.urn)
    if not releases:
        return
    never_installed = [c for c in view.of_type(EKS_CLUSTER, EKS_CLUSTER_COMPONENT)
                       if get(c.props, "bootstrapSelfManagedAddons") is False]
    if never_installed:
        return
    disablers = [r for r in view.resources if _disables_aws_node(r)]
    for rel in releases:
        if any(view.waits_for(rel, d) for d in disablers):
            continue
        if disablers:
            report_violation(explain(
                f"Cilium release {rel.name} does not depend on what disables aws-node "
                f"({', '.join(d.name for d in disablers)}).",
                "the engine may install Cilium while aws-node still runs: both CNIs then configure the "
                "same nodes and ENIs",
                "pass the aws-node removal to the release as depends_on (CiliumArgs.cni_removed in "
                "components/cilium.py)"), rel.urn)
        else:
            report_violation(explain(
                f"Nothing in the stack disables aws-node before Cilium release {rel.name}, and the cluster "
                "is created with EKS's self-managed add-ons (aws-node among them).",
                "aws-node and Cilium would both manage pod networking and ENIs on every node",
                "keep the AwsNodeRemoval component (components/aws_node.py) with `cilium-eks:awsNodeMode` "
                "`patch` (a DaemonSetPatch with nodeSelector io.cilium/aws-node-enabled=true) or `delete`, "
                "or create the cluster with bootstrap_self_managed_addons=False"), rel.urn)


# --------------------------------------------------------------------------------------
# 7. cilium-operator-least-privilege
# --------------------------------------------------------------------------------------


def _policy_problems(doc: Any, allowed: set[str]) -> list[str]:
    """What an IAM permissions document grants beyond ``allowed`` (lower-case actions)."""
    problems: list[str] = []
    for st in as_list(get(doc, "Statement")):
        if get(st, "Effect", "Allow") != "Allow":
            continue
        if get(st, "NotAction") is not None:
            problems.append("uses NotAction, which grants every action not listed")
        for action in as_list(get(st, "Action")):
            if not isinstance(action, str):
                continue
            service = action.split(":", 1)[0].lower()
            if "*" in action or "?" in action:
                problems.append(f"grants the wildcard action `{action}`")
            elif service in ("iam", "sts"):
                problems.append(f"grants `{action}`: {service.upper()} access lets the operator widen its own rights")
            elif action.lower() not in allowed:
                problems.append(f"grants `{action}`, which is not in the allowed list")
    return problems


def _trust_problems(doc: Any, namespace: str) -> list[str]:
    subject = f"system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}"
    problems: list[str] = []
    for st in as_list(get(doc, "Statement")):
        if get(st, "Effect", "Allow") != "Allow":
            continue
        principal = plain(get(st, "Principal"))
        if not isinstance(principal, dict) or set(principal) != {"Federated"}:
            problems.append(f"trusts {json.dumps(principal)} instead of only the cluster's OIDC provider")
        elif not all(isinstance(f, str) and ":oidc-provider/" in f for f in as_list(principal["Federated"])):
            problems.append(f"trusts federated principal {principal['Federated']!r}, not an EKS OIDC provider")
        actions = [a for a in as_list(get(st, "Action")) if isinstance(a, str)]
        if actions != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"allows {actions or 'no explicit action'} instead of only sts:AssumeRoleWithWebIdentity")
        condition = get(st, "Condition")
        equals = get(condition, "StringEquals")
        subs = [get(equals, k) for k in keys(equals) if k.endswith(":sub")]
        if not subs or any(as_list(s) != [subject] for s in subs):
            problems.append(f"is not limited (StringEquals <issuer>:sub) to the service account `{subject}`")
        for op in keys(condition):
            if op != "StringEquals" and any(k.endswith(":sub") for k in keys(get(condition, op))):
                problems.append(f"matches the service account with {op}, which admits other subjects")
        if not any(k.endswith(":aud") and as_list(get(equals, k)) == ["sts.amazonaws.com"] for k in keys(equals)):
            problems.append("does not require the audience (StringEquals <issuer>:aud) sts.amazonaws.com")
    return problems


def _linked(r: PolicyResource, key: str, target: PolicyResource) -> bool:
    """``r.<key>`` refers to ``target``: by data dependency, or by ID/name/ARN value."""
    if any(d.urn == target.urn for d in r.property_dependencies.get(key, [])):
        return True
    values = {v for v in (get(target.props, "name"), get(target.props, "arn"), get(target.props, "id"))
              if isinstance(v, str)}
    return any(isinstance(v, str) and v in values for v in as_list(get(r.props, key)))


def _operator_roles(release: PolicyResource, role_arn: Any, subject: str,
                    roles: list[PolicyResource]) -> list[PolicyResource]:
    """The IAM roles cilium-operator assumes: the role whose ARN the release passes as
    eni.iamRole (matched by value when known, by data dependency of ``values`` otherwise,
    e.g. during preview), and any role whose trust names the operator's service account."""
    by_value = [r for r in roles if isinstance(role_arn, str) and role_arn and get(r.props, "arn") == role_arn]
    found = by_value or [r for r in roles if _linked(release, "values", r)]
    for r in roles:
        trust = json_document(get(r.props, "assumeRolePolicy"))
        if r not in found and isinstance(trust, dict) and subject in json.dumps(trust):
            found.append(r)
    return found


def validate_cilium_operator_least_privilege(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    cfg = settings(args.get_config(), LEAST_PRIVILEGE_SCHEMA)
    allowed = {str(a).lower() for a in cfg["allowedActions"]}
    view = StackView(args.resources)
    roles_all = view.of_type(IAM_ROLE)
    policies = view.of_type(IAM_POLICY)
    deferred = Deferred()
    why_perm = ("cilium-operator runs in kube-system with host networking; whoever compromises it, or can "
                "mint a token for its service account, gets every right of its IRSA role across the account, "
                "far beyond managing this cluster's pod ENIs")
    perm_fix = ("grant only the EC2 actions of OPERATOR_ACTIONS_ALWAYS/OPERATOR_ACTIONS_CONDITIONAL "
                "(cilium_eks/cilium_values.py), as operator_policy_document does, or add a reviewed action "
                "to this policy's allowedActions config")

    for rel in _releases(view.resources):
        values = get(rel.props, "values", {})
        if values is UNKNOWN:
            deferred.unknown(f"{rel.name}.values")
            continue
        namespace = get(rel.props, "namespace", CILIUM_NAMESPACE)
        namespace = namespace if isinstance(namespace, str) else CILIUM_NAMESPACE
        role_arn = path(values, "eni.iamRole")
        subject = f"system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}"
        roles = _operator_roles(rel, role_arn, subject, roles_all)
        if not roles and role_arn is UNKNOWN:
            deferred.unknown(f"{rel.name}.values.eni.iamRole")
        elif not roles and isinstance(role_arn, str) and role_arn:
            report_violation(explain(
                f"Cilium release {rel.name} gives cilium-operator the IAM role {role_arn}, which this stack "
                "does not declare.",
                f"its permissions and trust cannot be checked; {why_perm}",
                "create the operator role in the Cilium component (components/cilium.py) and pass its ARN as "
                "eni.iamRole"), rel.urn)
        elif not roles and path(values, "eni.enabled") is True:
            report_violation(explain(
                f"Cilium release {rel.name} gives cilium-operator no IAM role (eni.iamRole is not set).",
                "the operator then falls back to the node instance role, which would need ENI write "
                "access on every node: any pod escaping to a node could rewire the VPC",
                "create the operator role with IRSA and pass its ARN as eni.iamRole (components/cilium.py)"),
                rel.urn)
        for role in roles:
            trust = json_document(get(role.props, "assumeRolePolicy"))
            if trust is UNKNOWN:
                deferred.unknown(f"{role.name}.assumeRolePolicy")
            elif trust is None:
                report_violation(explain(
                    f"IAM role {role.name} of cilium-operator has no readable trust policy.",
                    "its trust cannot be verified to be limited to the operator's service account",
                    "build it with irsa_trust_policy (cilium_eks/cilium_values.py)"), role.urn)
            else:
                for problem in _trust_problems(trust, namespace):
                    report_violation(explain(
                        f"The trust policy of cilium-operator's IAM role {role.name} {problem}.",
                        "any identity it admits gets the operator's rights over every ENI of the VPC",
                        f"trust only the cluster's OIDC provider for sts:AssumeRoleWithWebIdentity with "
                        f"StringEquals <issuer>:sub = {subject} and <issuer>:aud = sts.amazonaws.com "
                        "(irsa_trust_policy in cilium_eks/cilium_values.py)"), role.urn)

            documents: list[tuple[PolicyResource, str, Any]] = []
            for inline in elements(get(role.props, "inlinePolicies")):
                documents.append((role, f"inline policy {get(inline, 'name', '')}", get(inline, "policy")))
            for rp in view.of_type(IAM_ROLE_POLICY):
                if _linked(rp, "role", role):
                    documents.append((rp, f"role policy {rp.name}", get(rp.props, "policy")))
            arns: list[tuple[PolicyResource, Any, list[PolicyResource]]] = [
                (role, arn, []) for arn in as_list(get(role.props, "managedPolicyArns"))]
            for att in view.of_type(IAM_ROLE_POLICY_ATTACHMENT):
                if _linked(att, "role", role):
                    arns.append((att, get(att.props, "policyArn"), att.property_dependencies.get("policyArn", [])))
            for att in view.of_type(IAM_POLICY_ATTACHMENT):
                if _linked(att, "roles", role):
                    arns.append((att, get(att.props, "policyArn"), att.property_dependencies.get("policyArn", [])))
            for owner, arn, deps in arns:
                declared = [p for p in policies if any(d.urn == p.urn for d in deps) or (
                    isinstance(arn, str) and arn == get(p.props, "arn"))]
                if declared:
                    documents += [(p, f"policy {p.name}", get(p.props, "policy")) for p in declared]
                elif arn is UNKNOWN:
                    deferred.unknown(f"{owner.name}.policyArn")
                else:
                    report_violation(explain(
                        f"cilium-operator's IAM role {role.name} is attached policy {arn}, which this stack "
                        "does not declare (an AWS-managed or external policy).",
                        f"its permissions cannot be checked and managed policies grant far more than the "
                        f"ENI actions; {why_perm}",
                        f"attach only the stack's own ENI policy; {perm_fix}"), owner.urn)
            for owner, what, text in documents:
                doc = json_document(text)
                if doc is UNKNOWN:
                    deferred.unknown(f"{owner.name}.policy")
                    continue
                for problem in _policy_problems(doc, allowed) if doc is not None else ["is not a JSON policy"]:
                    report_violation(explain(
                        f"The {what} of cilium-operator's IAM role {role.name} {problem}.", why_perm, perm_fix),
                        owner.urn)
    deferred.finish()


# --------------------------------------------------------------------------------------
# 8. hubble-observability
# --------------------------------------------------------------------------------------

_EXPOSED_WHY = ("the Hubble UI has no authentication and shows every flow of the cluster (pods, "
                "services, DNS names, policy verdicts): on the internet it is a map for an attacker")
_EXPOSED_FIX = ("keep `cilium-eks:hubbleUiAccess` at `port-forward`, or `internal-load-balancer` (an NLB "
                "with aws-load-balancer-scheme: internal, reachable from the VPC only)")


def validate_hubble_observability(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    deferred = Deferred()
    if is_cilium_release(args.resource_type, props):
        cfg = settings(args.get_config(), HUBBLE_SCHEMA)
        label = _release_label(args.name, props)
        values = get(props, "values", {})
        checks = [
            ("hubble.enabled", True, True, "flow visibility is off: policy drops and DNS failures cannot be "
                                           "observed"),
            ("hubble.relay.enabled", bool(cfg["requireRelay"]), False,
             "without the relay, `hubble observe` and the UI see one node at a time at best"),
            ("hubble.ui.enabled", bool(cfg["requireUi"]), False, "operators lose the service map and flow UI"),
            ("hubble.tls.enabled", bool(cfg["requireTls"]), True,
             "relay and agents then talk in clear text over the node network: flow data (who talks to whom, "
             "DNS names) is readable on the wire"),
        ]
        for key, required, default, why in checks:
            value = path(values, key, default)
            if required and deferred.check(value, f"values.{key}") and value is not True:
                report_violation(explain(
                    f"{label} has {key}={value!r}.", why,
                    "the program enables Hubble with relay, UI and mTLS in hubble_values "
                    "(cilium_eks/cilium_values.py); do not override them in `cilium-eks:ciliumExtraValues`"),
                    None)
        if path(values, "hubble.ui.service.type") == "LoadBalancer":
            exposure = _hubble_ui_exposure(path(values, "hubble.ui.service.annotations"))
            if exposure is not None:
                report_violation(explain(
                    f"{label} puts hubble-ui behind an internet-facing load balancer ({exposure}).",
                    _EXPOSED_WHY, _EXPOSED_FIX), None)
        if path(values, "hubble.ui.ingress.enabled") is True:
            scheme = get(path(values, "hubble.ui.ingress.annotations"), "alb.ingress.kubernetes.io/scheme")
            if scheme == "internet-facing":
                report_violation(explain(
                    f"{label} exposes hubble-ui through an internet-facing ALB ingress.", _EXPOSED_WHY,
                    _EXPOSED_FIX), None)
    elif args.resource_type == SERVICE and _is_hubble_ui_service(props):
        kind = path(props, "spec.type")
        if deferred.check(kind, "spec.type") and kind == "LoadBalancer":
            exposure = _hubble_ui_exposure(path(props, "metadata.annotations"))
            if exposure is not None:
                report_violation(explain(
                    f"Service {args.name} puts hubble-ui behind an internet-facing load balancer ({exposure}).",
                    _EXPOSED_WHY, _EXPOSED_FIX), None)
    elif args.resource_type == INGRESS:
        spec = get(props, "spec")
        backends = [path(spec, "defaultBackend.service.name")]
        for rule in elements(get(spec, "rules")):
            backends += [path(p, "backend.service.name") for p in elements(path(rule, "http.paths"))]
        scheme = get(path(props, "metadata.annotations"), "alb.ingress.kubernetes.io/scheme")
        if scheme == "internet-facing" and any(isinstance(b, str) and b.startswith("hubble-ui") for b in backends):
            report_violation(explain(
                f"Ingress {args.name} exposes hubble-ui through an internet-facing ALB.", _EXPOSED_WHY,
                _EXPOSED_FIX), None)
    deferred.finish()


# --------------------------------------------------------------------------------------
# 9. eks-api-not-public
# --------------------------------------------------------------------------------------


def validate_eks_api_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    cfg = settings(args.get_config(), API_SCHEMA)
    forbidden = {str(c).strip() for c in cfg["forbiddenCidrs"]}
    deferred = Deferred()
    vpc = get(args.props, "vpcConfig", {})
    public = get(vpc, "endpointPublicAccess", True)  # AWS default: public
    if deferred.check(public, "vpcConfig.endpointPublicAccess") and public is True:
        cidrs = get(vpc, "publicAccessCidrs")
        listed = elements(cidrs)
        if cidrs is UNKNOWN:
            deferred.unknown("vpcConfig.publicAccessCidrs")
            open_to: list[Any] = []
        elif not listed:
            open_to = ["0.0.0.0/0 (the AWS default when no CIDR is listed)"]
        else:
            open_to = [c for c in listed if world_open(c) or (isinstance(c, str) and c.strip() in forbidden)]
        if open_to:
            report_violation(explain(
                f"EKS cluster {args.name} has a public API endpoint open to {', '.join(map(str, open_to))}.",
                "anyone on the internet can reach the Kubernetes API that controls Cilium, its network "
                "policies and the operator's ENI rights; only credentials stand in the way, and EKS API "
                "endpoints are scanned constantly",
                "list only your VPN/CI egress ranges in `cilium-eks:publicAccessCidrs`, or set "
                "`cilium-eks:endpointPublicAccess` false and reach the API through the VPC "
                "(`cilium-eks:endpointPrivateAccess` true)"), None)
    deferred.finish()


# --------------------------------------------------------------------------------------
# 10. eks-secrets-encrypted, eks-control-plane-logs
# --------------------------------------------------------------------------------------


def validate_eks_secrets_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    configs = get(args.props, "encryptionConfig")
    if configs is UNKNOWN:
        undecidable("encryptionConfig")
    configs = [configs] if isinstance(configs, Mapping) else elements(configs)
    encrypted = any("secrets" in as_list(get(c, "resources")) and get(path(c, "provider"), "keyArn")
                    for c in configs)
    if not encrypted:
        report_violation(explain(
            f"EKS cluster {args.name} does not envelope-encrypt Kubernetes Secrets with a KMS key.",
            "Secrets (Hubble's TLS keys, the Cilium CA, workload credentials) then sit in etcd protected "
            "only by AWS's default disk encryption, with no key policy or audit trail of their own",
            "pass encryption_config_key_arn (a rotated KMS key) to eks.Cluster, as components/cluster.py "
            "does"), None)


def validate_eks_control_plane_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    cfg = settings(args.get_config(), LOGS_SCHEMA)
    enabled = get(args.props, "enabledClusterLogTypes")
    if enabled is UNKNOWN:
        undecidable("enabledClusterLogTypes")
    have = {t for t in elements(enabled) if isinstance(t, str)}
    missing = [t for t in cfg["requiredLogTypes"] if t not in have]
    if missing:
        report_violation(explain(
            f"EKS cluster {args.name} does not send the {', '.join(missing)} control-plane log(s) to "
            "CloudWatch.",
            "without API, audit and authenticator logs nobody can tell afterwards who changed Cilium's "
            "policies, the aws-node DaemonSet or the operator's service account",
            f"add {', '.join(missing)} to `cilium-eks:clusterLogTypes`"), None)


# --------------------------------------------------------------------------------------
# The policies
# --------------------------------------------------------------------------------------

Validator = Callable[..., None]


@dataclass(frozen=True)
class Rule:
    """One rule: its policy name, kind, validator, default level and config schema."""

    name: str
    description: str
    stack: bool
    validate: Validator
    level: EnforcementLevel
    severity: Severity
    schema: PolicyConfigSchema | None = None

    def policy(self) -> Policy:
        if self.stack:
            return StackValidationPolicy(name=self.name, description=self.description, validate=self.validate,
                                         enforcement_level=self.level, config_schema=self.schema,
                                         severity=self.severity)
        return ResourceValidationPolicy(name=self.name, description=self.description, validate=self.validate,
                                        enforcement_level=self.level, config_schema=self.schema,
                                        severity=self.severity)


MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def all_rules(context: StackContext | None = None) -> list[Rule]:
    """Every rule, with the levels for ``context`` (production unless it says otherwise)."""
    context = context or StackContext()
    return [
        Rule("eks-no-default-node-group", "EKS clusters skip pulumi-eks's default node group.",
             False, validate_eks_no_default_node_group, MANDATORY, Severity.HIGH),
        Rule("cilium-eni-mode", "Cilium uses AWS ENI IPAM with native routing and no removed chart values.",
             False, validate_cilium_eni_mode, MANDATORY, Severity.CRITICAL, ENI_MODE_SCHEMA),
        Rule("cilium-version-pinned", "The Cilium chart is pinned to an exact x.y.z at or above the floor.",
             False, validate_cilium_version_pinned, MANDATORY, Severity.HIGH, VERSION_SCHEMA),
        Rule("cilium-release-does-not-wait", "A Cilium release installed before its nodes does not wait.",
             False, validate_cilium_release_does_not_wait, MANDATORY, Severity.CRITICAL),
        Rule("nodes-join-after-cilium",
             "Every node group waits for the Cilium release and carries the agent-not-ready NoExecute taint.",
             True, validate_nodes_join_after_cilium, MANDATORY, Severity.CRITICAL),
        Rule("vpc-cni-disabled", "aws-node is disabled before Cilium is installed and never reinstalled.",
             True, validate_vpc_cni_disabled, MANDATORY, Severity.CRITICAL),
        Rule("cilium-operator-least-privilege",
             "cilium-operator's IAM role grants only the ENI actions and trusts only its service account.",
             True, validate_cilium_operator_least_privilege, MANDATORY, Severity.HIGH, LEAST_PRIVILEGE_SCHEMA),
        Rule("hubble-observability", "Hubble relay and UI run with TLS; the UI is never internet-facing.",
             False, validate_hubble_observability, ADVISORY, Severity.MEDIUM, HUBBLE_SCHEMA),
        Rule("eks-api-not-public", "The EKS API endpoint is not open to the whole internet.",
             False, validate_eks_api_not_public, MANDATORY if context.production else ADVISORY, Severity.HIGH,
             API_SCHEMA),
        Rule("eks-secrets-encrypted", "Kubernetes Secrets are envelope-encrypted with KMS.",
             False, validate_eks_secrets_encrypted, ADVISORY, Severity.MEDIUM),
        Rule("eks-control-plane-logs", "Security-relevant EKS control-plane logs are enabled.",
             False, validate_eks_control_plane_logs, ADVISORY, Severity.LOW, LOGS_SCHEMA),
    ]


def build_policies(context: StackContext | None = None) -> list[Policy]:
    """The policies of the pack, for ``policies/__main__.py`` (and the offline adapter)."""
    return [rule.policy() for rule in all_rules(context)]
