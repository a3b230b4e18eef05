"""Stack configuration: the declared keys, a frozen typed model, and a pure validator.

The program reads configuration exactly once (``read_stack_config``) and hands a
``StackConfig`` to the components. ``parse_config`` is pure: it takes plain values
(what ``Pulumi.<stack>.yaml`` holds) and either returns a ``StackConfig`` or raises a
``ConfigError`` listing *every* problem, each with its config key and the fix. Nothing
is declared before that, so a bad stack file never produces half a cluster.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

# --------------------------------------------------------------------------------------
# Facts the validator relies on
# --------------------------------------------------------------------------------------

#: Cilium releases this program knows how to configure. Below 1.16 the ENI defaults and
#: value names differ; above the newest minor the chart has not been checked.
MIN_CILIUM_VERSION = (1, 16, 0)
NEWEST_CILIUM_MINOR = (1, 20)
DEFAULT_CILIUM_VERSION = "1.20.0"

#: EKS Kubernetes versions accepted (EKS standard + extended support at the time of writing).
SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
DEFAULT_KUBERNETES_VERSION = "1.34"

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AWS_NODE_MODES = ("patch", "delete")
NAT_GATEWAY_MODES = ("single", "one-per-az")
ENVIRONMENTS = ("development", "staging", "production")
HUBBLE_UI_ACCESS = ("port-forward", "internal-load-balancer")
DEMO_POLICIES = ("none", "l3l4", "l7")
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")

#: Helm value paths that current Cilium charts removed or made obsolete, with the fix.
REMOVED_CILIUM_VALUES: Mapping[str, str] = MappingProxyType(
    {
        "tunnel": "removed in Cilium 1.15 (the chart refuses it); ENI mode needs "
        "`routingMode: native`, which this program already sets",
        "egressMasqueradeInterfaces": "obsolete: since Cilium 1.18 ENI mode does not masquerade "
        "IPv4 by default, and AL2023 names the first NIC `ens5`, not `eth0`",
        "containerRuntime": "removed in Cilium 1.14; the agent detects the runtime itself",
        "installIptablesRules": "removed; use `installNoConntrackIptablesRules` or leave the default",
        "kubeProxyReplacementHealthzBindAddr.strict": "never existed; set `kubeProxyReplacement: true`",
    }
)

#: Values the program owns: ENI IPAM cannot work if a per-stack override changes them.
PROGRAM_OWNED_CILIUM_VALUES = (
    "eni.enabled",
    "eni.iamRole",
    "eni.subnetTagsFilter",
    "ipam.mode",
    "routingMode",
    "cluster.name",
    "operator.replicas",
    "kubeProxyReplacement",
    "k8sServiceHost",
    "k8sServicePort",
    "hubble.enabled",
    "hubble.relay.enabled",
    "hubble.ui.enabled",
)

_LEGACY_KPR_VALUES = ("strict", "partial", "probe", "disabled")

# Cilium's cluster.name: at most 32 characters, lower-case alphanumerics and dashes.
_CILIUM_CLUSTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_K8S_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_K8S_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/.+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


# --------------------------------------------------------------------------------------
# Declared keys: the single source for Pulumi.yaml, the validator and the config reference
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """One project config key. ``type`` is a Pulumi project config type, or ``object``
    for structured keys that Pulumi.yaml cannot type (they are documented there instead)."""

    name: str
    type: str  # "string" | "integer" | "boolean" | "array" | "object"
    default: Any
    description: str
    choices: tuple[str, ...] = ()


DEFAULT_NODE_GROUPS: Mapping[str, Any] = MappingProxyType(
    {
        "general": {
            "instanceTypes": ["m6i.large"],
            "capacityType": "ON_DEMAND",
            "minSize": 2,
            "desiredSize": 2,
            "maxSize": 4,
            "diskSizeGiB": 50,
            "labels": {},
        }
    }
)

CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("environment", "string", "development",
              "Environment class. `production` turns on the strict checks (no public API "
              "endpoint open to 0.0.0.0/0, mandatory policies).", ENVIRONMENTS),
    ConfigKey("vpcCidr", "string", "10.0.0.0/16",
              "IPv4 CIDR of the VPC this program creates (ignored with existingVpcId). Pods take "
              "their IPs from it in ENI mode, so size it for pods, not only nodes."),
    ConfigKey("availabilityZoneCount", "integer", 2,
              "Number of availability zones to spread subnets and nodes over (2 to 6)."),
    ConfigKey("natGateways", "string", "single",
              "`single`: one shared NAT gateway (cheap, one AZ is a single point of failure); "
              "`one-per-az`: a NAT gateway per AZ (highly available).", NAT_GATEWAY_MODES),
    ConfigKey("publicSubnetCidrs", "array", [],
              "Public subnet CIDRs (load balancers, NAT), one per AZ, inside vpcCidr. Empty: "
              "small blocks (/24 in a /16) from the last quarter of vpcCidr."),
    ConfigKey("privateSubnetCidrs", "array", [],
              "Private subnet CIDRs (nodes and pod ENIs), one per AZ, inside vpcCidr. Empty: "
              "a quarter of vpcCidr per AZ (an eighth with more than 3 AZs), room for pods."),
    ConfigKey("existingVpcId", "string", "",
              "Bring your own VPC: its id. Requires existingPrivateSubnetIds (and "
              "existingPublicSubnetIds for internet-facing load balancers)."),
    ConfigKey("existingPrivateSubnetIds", "array", [],
              "With existingVpcId: private subnet ids for nodes and pod ENIs, at least 2 AZs."),
    ConfigKey("existingPublicSubnetIds", "array", [],
              "With existingVpcId: public subnet ids (optional)."),
    ConfigKey("kubernetesVersion", "string", DEFAULT_KUBERNETES_VERSION,
              "EKS Kubernetes version, `1.NN`.", SUPPORTED_KUBERNETES_VERSIONS),
    ConfigKey("endpointPrivateAccess", "boolean", True,
              "Reach the Kubernetes API from inside the VPC (nodes use it)."),
    ConfigKey("endpointPublicAccess", "boolean", True,
              "Reach the Kubernetes API from the internet, restricted to publicAccessCidrs. "
              "Pulumi itself needs API access to install Cilium."),
    ConfigKey("publicAccessCidrs", "array", [],
              "CIDRs allowed to reach the public API endpoint. Required when "
              "endpointPublicAccess is true; 0.0.0.0/0 is refused in production."),
    ConfigKey("clusterLogTypes", "array", ["api", "audit", "authenticator"],
              "Control-plane log types sent to CloudWatch."),
    ConfigKey("clusterAdminArns", "array", [],
              "IAM role/user ARNs given cluster-admin through EKS access entries (the identity "
              "running `pulumi up` is admin already)."),
    ConfigKey("awsNodeMode", "string", "patch",
              "How the AWS VPC CNI is disabled: `patch` (DaemonSet kept, scheduled nowhere; "
              "Cilium's recommendation) or `delete` (DaemonSet deleted, as the original recipe).",
              AWS_NODE_MODES),
    ConfigKey("ciliumVersion", "string", DEFAULT_CILIUM_VERSION,
              "Exact Cilium chart version `x.y.z` (1.16.0 or newer, up to the newest checked minor)."),
    ConfigKey("ciliumKubeProxyReplacement", "boolean", False,
              "Let Cilium replace kube-proxy (sets k8sServiceHost to the EKS API endpoint)."),
    ConfigKey("ciliumPrefixDelegation", "boolean", False,
              "ENI prefix delegation: /28 prefixes per ENI slot, far more pods per node (Nitro "
              "instances only)."),
    ConfigKey("ciliumExtraValues", "object", {},
              "Extra Helm values deep-merged into the Cilium release. Keys the chart removed "
              "(`tunnel`, ...) and values the program owns (`eni.enabled`, `ipam.mode`, ...) are refused."),
    ConfigKey("nodeGroups", "object", dict(DEFAULT_NODE_GROUPS),
              "Managed node groups: a map from group name to {instanceTypes, capacityType "
              "(ON_DEMAND|SPOT), minSize, desiredSize, maxSize, diskSizeGiB, labels}."),
    ConfigKey("hubbleUiAccess", "string", "port-forward",
              "How to reach the Hubble UI: `port-forward` (a kubectl command as a stack output) "
              "or `internal-load-balancer` (an internal NLB reachable from the VPC only).",
              HUBBLE_UI_ACCESS),
    ConfigKey("demoEnabled", "boolean", False,
              "Deploy the star-wars demo (deathstar, tiefighter, xwing) in its own namespace."),
    ConfigKey("demoPolicy", "string", "l7",
              "Demo policy stage: `none`, `l3l4` (only org=empire reaches deathstar on TCP 80) or "
              "`l7` (and only POST /v1/request-landing).", DEMO_POLICIES),
)

CONFIG_KEYS_BY_NAME: Mapping[str, ConfigKey] = MappingProxyType({k.name: k for k in CONFIG_KEYS})


# --------------------------------------------------------------------------------------
# Typed model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    availability_zone_count: int
    nat_gateways: str
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]
    existing_vpc_id: str | None
    existing_private_subnet_ids: tuple[str, ...]
    existing_public_subnet_ids: tuple[str, ...]

    @property
    def bring_your_own_vpc(self) -> bool:
        return self.existing_vpc_id is not None


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    endpoint_private_access: bool
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]
    log_types: tuple[str, ...]
    admin_arns: tuple[str, ...]


@dataclass(frozen=True)
class NodeGroupConfig:
    name: str
    instance_types: tuple[str, ...]
    capacity_type: str
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CiliumConfig:
    version: str
    kube_proxy_replacement: bool
    prefix_delegation: bool
    extra_values: Mapping[str, Any]


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str
    environment: str
    network: NetworkConfig
    cluster: ClusterConfig
    aws_node_mode: str
    cilium: CiliumConfig
    node_groups: tuple[NodeGroupConfig, ...]
    hubble_ui_access: str
    demo_enabled: bool
    demo_policy: str

    @property
    def name_prefix(self) -> str:
        """Every physical name starts with this, so two stacks can share an account."""
        return f"{self.project}-{self.stack}"

    @property
    def cluster_name(self) -> str:
        return self.name_prefix

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def total_min_nodes(self) -> int:
        return sum(g.min_size for g in self.node_groups)

    @property
    def tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "managed-by": "pulumi",
        }


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    key: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.what}. Fix: {self.fix}"


class ConfigError(Exception):
    """Every configuration problem of a stack, reported together."""

    def __init__(self, stack: str, problems: Sequence[Problem]):
        self.stack = stack
        self.problems = tuple(problems)
        lines = [f"stack '{stack}' has {len(self.problems)} configuration problem(s); "
                 "nothing was created:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, project: str) -> None:
        self.project = project
        self.problems: list[Problem] = []

    def add(self, key: str, what: str, fix: str) -> None:
        self.problems.append(Problem(f"{self.project}:{key}", what, fix))


def _coerce(raw: Any, key: ConfigKey, errs: _Collector) -> Any:
    """Turn a stack-file value (or the string Pulumi hands the program) into the declared type."""
    if raw is None:
        return key.default
    t = key.type
    if t == "string":
        if isinstance(raw, (dict, list)):
            errs.add(key.name, f"expected a string, got {type(raw).__name__}",
                     f"set a plain string, e.g. `pulumi config set {key.name} {key.default!s}`")
            return key.default
        return str(raw)
    if t == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        errs.add(key.name, f"expected true or false, got {raw!r}",
                 f"`pulumi config set {key.name} true` (or false)")
        return key.default
    if t == "integer":
        if isinstance(raw, bool):
            raw = "x"  # bool is an int in Python; never a valid count here
        try:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)
        except (TypeError, ValueError):
            errs.add(key.name, f"expected an integer, got {raw!r}",
                     f"`pulumi config set {key.name} {key.default}`")
            return key.default
    # array and object values arrive from Pulumi as JSON text, from YAML as structures.
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
    if t == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errs.add(key.name, f"expected a list of strings, got {raw!r}",
                     f"`pulumi config set --path '{key.name}[0]' <value>`")
            return key.default
        return value
    if not isinstance(value, dict):
        errs.add(key.name, f"expected a map, got {raw!r}",
                 f"write `{key.name}:` as a YAML map in Pulumi.<stack>.yaml")
        return key.default
    return value


def _strip_namespace(raw: Mapping[str, Any], project: str) -> tuple[dict[str, Any], list[str]]:
    """Keep this project's keys (with or without the `project:` prefix); return other
    namespaces' keys separately (`aws:region` is the provider's business)."""
    own: dict[str, Any] = {}
    foreign: list[str] = []
    for k, v in raw.items():
        if ":" in k:
            ns, _, short = k.partition(":")
            if ns != project:
                foreign.append(k)
                continue
            own[short] = v
        else:
            own[k] = v
    return own, foreign


def parse_config(raw: Mapping[str, Any], *, project: str, stack: str, region: str | None) -> StackConfig:
    """Validate a stack's raw configuration and return the typed model.

    ``raw`` maps config keys (``cilium-eks:vpcCidr`` or ``vpcCidr``) to values as a stack
    file holds them. Raises ``ConfigError`` with every problem found.
    """
    errs = _Collector(project)
    own, _foreign = _strip_namespace(raw, project)

    for k in own:
        if k not in CONFIG_KEYS_BY_NAME:
            close = difflib.get_close_matches(k, list(CONFIG_KEYS_BY_NAME), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "see docs/configuration.md for the keys"
            errs.add(k, "is not a key this program reads", f"remove it or rename it; {hint}")

    v = {k.name: _coerce(own.get(k.name), k, errs) for k in CONFIG_KEYS}

    if not region:
        errs.problems.append(Problem("aws:region", "the AWS region is not set",
                                     "`pulumi config set aws:region eu-west-1` (any region with at least 2 AZs)"))

    for key in CONFIG_KEYS:
        if key.choices and key.type == "string" and v[key.name] not in key.choices:
            errs.add(key.name, f"{v[key.name]!r} is not one of {', '.join(key.choices)}",
                     f"`pulumi config set {key.name} {key.default}`")

    if not _CILIUM_CLUSTER_NAME.match(f"{project}-{stack}"):
        errs.add("(project and stack name)",
                 f"the cluster name '{project}-{stack}' must be at most 32 lower-case letters, "
                 "digits and dashes (Cilium's cluster.name and EKS naming)",
                 "use a shorter, lower-case stack name (`pulumi stack rename`)")

    network = _parse_network(v, errs)
    cluster = _parse_cluster(v, errs)
    cilium = _parse_cilium(v, errs)
    node_groups = _parse_node_groups(v["nodeGroups"], errs)

    if v["environment"] == "production" and cluster.endpoint_public_access:
        for c in cluster.public_access_cidrs:
            if _is_whole_internet(c):
                errs.add("publicAccessCidrs", f"{c} opens the Kubernetes API to the whole internet "
                         "in a production stack",
                         "list only your office/VPN/CI egress CIDRs, or set endpointPublicAccess false")

    if errs.problems:
        raise ConfigError(stack, errs.problems)

    return StackConfig(
        project=project,
        stack=stack,
        region=str(region),
        environment=v["environment"],
        network=network,
        cluster=cluster,
        aws_node_mode=v["awsNodeMode"],
        cilium=cilium,
        node_groups=node_groups,
        hubble_ui_access=v["hubbleUiAccess"],
        demo_enabled=v["demoEnabled"],
        demo_policy=v["demoPolicy"],
    )


def _is_whole_internet(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _network(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def default_subnet_cidrs(vpc_cidr: str, az_count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Carve a VPC into per-AZ private and public subnets.

    Private subnets get a quarter of the VPC each (an eighth with more than 3 AZs): pods
    take VPC IPs in ENI mode, so they need the room. Public subnets (load balancers, NAT)
    share the last block, /24 where it fits. Raises ValueError when the VPC is too small
    to give every AZ at least a /28.
    """
    vpc = ipaddress.ip_network(vpc_cidr)
    extra_bits = 2 if az_count <= 3 else 3
    blocks = list(vpc.subnets(new_prefix=vpc.prefixlen + extra_bits))
    private = tuple(str(b) for b in blocks[:az_count])
    last = blocks[-1]
    smallest_fit = last.prefixlen + (az_count - 1).bit_length()
    if smallest_fit > 28:
        raise ValueError(f"{vpc_cidr} is too small to hold {az_count} private and {az_count} public subnets")
    public_prefix = min(max(smallest_fit, 24), 28)
    public = tuple(str(b) for b in list(last.subnets(new_prefix=public_prefix))[:az_count])
    return private, public


def _parse_network(v: Mapping[str, Any], errs: _Collector) -> NetworkConfig:
    az = v["availabilityZoneCount"]
    if not 2 <= az <= 6:
        errs.add("availabilityZoneCount", f"{az} availability zones: EKS needs subnets in at least 2 "
                 "AZs and no region offers more than 6", "set a value from 2 to 6 (2 for dev, 3 for prod)")

    existing = v["existingVpcId"] or None
    priv_ids = tuple(v["existingPrivateSubnetIds"])
    pub_ids = tuple(v["existingPublicSubnetIds"])
    if existing is not None:
        if not _VPC_ID.match(existing):
            errs.add("existingVpcId", f"{existing!r} is not a VPC id", "use the `vpc-...` id from the VPC console")
        if len(priv_ids) < 2:
            errs.add("existingPrivateSubnetIds", f"{len(priv_ids)} private subnet(s) given with existingVpcId",
                     "list private subnet ids in at least 2 AZs")
        for sid in priv_ids + pub_ids:
            if not _SUBNET_ID.match(sid):
                errs.add("existingPrivateSubnetIds" if sid in priv_ids else "existingPublicSubnetIds",
                         f"{sid!r} is not a subnet id", "use `subnet-...` ids")
        overlap = set(priv_ids) & set(pub_ids)
        if overlap:
            errs.add("existingPublicSubnetIds", f"{sorted(overlap)} listed as both public and private",
                     "nodes and pod ENIs must live in private subnets only; list each subnet once")
    elif priv_ids or pub_ids:
        errs.add("existingPrivateSubnetIds", "subnet ids given without existingVpcId",
                 "set existingVpcId too, or remove the subnet ids to let the program create a VPC")

    vpc_cidr = v["vpcCidr"]
    vpc = _network(vpc_cidr)
    private: tuple[str, ...] = tuple(v["privateSubnetCidrs"])
    public: tuple[str, ...] = tuple(v["publicSubnetCidrs"])
    if vpc is None:
        errs.add("vpcCidr", f"{vpc_cidr!r} is not an IPv4 network address (e.g. 10.0.0.0/16, no host bits set)",
                 "`pulumi config set vpcCidr 10.0.0.0/16`")
    elif not 16 <= vpc.prefixlen <= 24:
        errs.add("vpcCidr", f"/{vpc.prefixlen} is outside what a VPC accepts (/16 to /24)",
                 "use a /16 (pods take VPC IPs in ENI mode)")
    elif not vpc.is_private:
        errs.add("vpcCidr", f"{vpc_cidr} is not a private (RFC 1918) range",
                 "use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 space")
    elif existing is None and 2 <= az <= 6:
        try:
            d_private, d_public = default_subnet_cidrs(vpc_cidr, az)
        except ValueError as exc:
            if not (private and public):
                errs.add("vpcCidr", str(exc), "use a larger vpcCidr (a /16 is typical) or fewer AZs, "
                         "or list privateSubnetCidrs and publicSubnetCidrs yourself")
            d_private, d_public = (), ()
        private = private or d_private
        public = public or d_public
        if private and public:
            _check_subnets(vpc, private, public, az, errs)
    return NetworkConfig(
        vpc_cidr=vpc_cidr,
        availability_zone_count=az,
        nat_gateways=v["natGateways"],
        public_subnet_cidrs=public,
        private_subnet_cidrs=private,
        existing_vpc_id=existing,
        existing_private_subnet_ids=priv_ids,
        existing_public_subnet_ids=pub_ids,
    )


def _check_subnets(vpc: ipaddress.IPv4Network, private: Sequence[str], public: Sequence[str],
                   az: int, errs: _Collector) -> None:
    parsed: list[tuple[str, str, ipaddress.IPv4Network]] = []
    for key, cidrs in (("privateSubnetCidrs", private), ("publicSubnetCidrs", public)):
        if len(cidrs) != az:
            errs.add(key, f"{len(cidrs)} CIDRs for {az} availability zones",
                     f"give exactly {az} CIDRs (one per AZ) or none to derive them from vpcCidr")
        for c in cidrs:
            net = _network(c)
            if net is None:
                errs.add(key, f"{c!r} is not an IPv4 network address", "write it like 10.0.0.0/19, no host bits set")
                continue
            if not net.subnet_of(vpc):
                errs.add(key, f"{c} does not fit inside vpcCidr {vpc}", f"choose a block inside {vpc}")
            if net.prefixlen > 28:
                errs.add(key, f"{c} is smaller than /28, the smallest subnet AWS allows", "use /28 or larger")
            parsed.append((key, c, net))
    for i, (k1, c1, n1) in enumerate(parsed):
        for k2, c2, n2 in parsed[i + 1:]:
            if n1.overlaps(n2):
                errs.add(k2, f"{c2} overlaps {c1} ({k1})", "give every subnet its own, non-overlapping block")


def _parse_cluster(v: Mapping[str, Any], errs: _Collector) -> ClusterConfig:
    cidrs = tuple(v["publicAccessCidrs"])
    for c in cidrs:
        try:
            ipaddress.ip_network(c, strict=True)
        except ValueError:
            errs.add("publicAccessCidrs", f"{c!r} is not a network address (host bits set or malformed)",
                     "write CIDRs like 203.0.113.0/24 or 198.51.100.7/32")
    if v["endpointPublicAccess"] and not cidrs:
        errs.add("publicAccessCidrs", "the public API endpoint is on but no CIDR is listed, which EKS "
                 "reads as 0.0.0.0/0", "list your egress CIDRs, e.g. `pulumi config set --path "
                 "'publicAccessCidrs[0]' 203.0.113.7/32`, or set endpointPublicAccess false")
    if not v["endpointPublicAccess"] and not v["endpointPrivateAccess"]:
        errs.add("endpointPrivateAccess", "both API endpoints are off; nothing could reach the cluster",
                 "set endpointPrivateAccess true")
    for t in v["clusterLogTypes"]:
        if t not in CONTROL_PLANE_LOG_TYPES:
            errs.add("clusterLogTypes", f"{t!r} is not a control-plane log type",
                     f"use any of {', '.join(CONTROL_PLANE_LOG_TYPES)}")
    for arn in v["clusterAdminArns"]:
        if not _IAM_PRINCIPAL_ARN.match(arn):
            errs.add("clusterAdminArns", f"{arn!r} is not an IAM role or user ARN",
                     "use arn:aws:iam::<account>:role/<name>")
    return ClusterConfig(
        kubernetes_version=v["kubernetesVersion"],
        endpoint_private_access=v["endpointPrivateAccess"],
        endpoint_public_access=v["endpointPublicAccess"],
        public_access_cidrs=cidrs,
        log_types=tuple(v["clusterLogTypes"]),
        admin_arns=tuple(v["clusterAdminArns"]),
    )


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, val in values.items():
        path = f"{prefix}{k}"
        out[path] = val
        if isinstance(val, Mapping):
            out.update(_flatten(val, path + "."))
    return out


def _parse_cilium(v: Mapping[str, Any], errs: _Collector) -> CiliumConfig:
    version = v["ciliumVersion"]
    parsed = parse_version(version)
    if parsed is None:
        errs.add("ciliumVersion", f"{version!r} is not an exact x.y.z version",
                 f"pin a release, e.g. `pulumi config set ciliumVersion {DEFAULT_CILIUM_VERSION}`")
    elif parsed < MIN_CILIUM_VERSION:
        errs.add("ciliumVersion", f"{version} is older than 1.16.0, whose ENI defaults this program relies on",
                 f"use {DEFAULT_CILIUM_VERSION}")
    elif parsed[:2] > NEWEST_CILIUM_MINOR:
        errs.add("ciliumVersion", f"{version} is newer than the newest chart this program was checked "
                 f"against ({NEWEST_CILIUM_MINOR[0]}.{NEWEST_CILIUM_MINOR[1]}.x)",
                 f"use {DEFAULT_CILIUM_VERSION}, or check the new chart's values and raise NEWEST_CILIUM_MINOR")

    extra = v["ciliumExtraValues"]
    flat = _flatten(extra)
    for path in flat:
        for removed, why in REMOVED_CILIUM_VALUES.items():
            if path == removed or path.startswith(removed + "."):
                errs.add(f"ciliumExtraValues.{path}", f"`{path}` is {why}", f"remove `{path}` from ciliumExtraValues")
        if path in PROGRAM_OWNED_CILIUM_VALUES:
            errs.add(f"ciliumExtraValues.{path}", f"`{path}` is set by the program (ENI IPAM, IRSA, "
                     "Hubble and ordering depend on it)",
                     "remove it; use the dedicated config key (ciliumKubeProxyReplacement, hubbleUiAccess, ...)")
    kpr = flat.get("kubeProxyReplacement")
    if isinstance(kpr, str) and kpr in _LEGACY_KPR_VALUES:
        errs.add("ciliumExtraValues.kubeProxyReplacement", f"{kpr!r} was removed in Cilium 1.15",
                 "use ciliumKubeProxyReplacement true/false")
    return CiliumConfig(
        version=version,
        kube_proxy_replacement=v["ciliumKubeProxyReplacement"],
        prefix_delegation=v["ciliumPrefixDelegation"],
        extra_values=extra,
    )


_NODE_GROUP_FIELDS: Mapping[str, Callable[[Any], bool]] = MappingProxyType({
    "instanceTypes": lambda x: isinstance(x, list) and bool(x) and all(isinstance(i, str) for i in x),
    "capacityType": lambda x: isinstance(x, str),
    "minSize": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "desiredSize": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "maxSize": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "diskSizeGiB": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "labels": lambda x: isinstance(x, dict),
})


def _parse_node_groups(groups: Mapping[str, Any], errs: _Collector) -> tuple[NodeGroupConfig, ...]:
    if not groups:
        errs.add("nodeGroups", "no node group: Cilium and every workload need nodes",
                 "declare at least one group under nodeGroups")
        return ()
    defaults = DEFAULT_NODE_GROUPS["general"]
    out: list[NodeGroupConfig] = []
    for name, spec in groups.items():
        key = f"nodeGroups.{name}"
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", str(name)):
            errs.add(key, f"group name {name!r} must be 1-20 lower-case letters, digits or dashes",
                     "rename the group (it becomes part of AWS resource names)")
        if not isinstance(spec, dict):
            errs.add(key, f"expected a map of settings, got {spec!r}", "see docs/configuration.md for the fields")
            continue
        for f in spec:
            if f not in _NODE_GROUP_FIELDS:
                close = difflib.get_close_matches(f, list(_NODE_GROUP_FIELDS), n=1)
                errs.add(f"{key}.{f}", "is not a node group setting",
                         f"remove it{'; did you mean `' + close[0] + '`?' if close else ''}")
        merged = {**defaults, **spec}
        ok = True
        for f, check in _NODE_GROUP_FIELDS.items():
            if not check(merged[f]):
                errs.add(f"{key}.{f}", f"invalid value {merged[f]!r}", "see docs/configuration.md for its type")
                ok = False
        if not ok:
            continue
        if merged["capacityType"] not in CAPACITY_TYPES:
            errs.add(f"{key}.capacityType", f"{merged['capacityType']!r} is not ON_DEMAND or SPOT",
                     "use ON_DEMAND or SPOT")
        for it in merged["instanceTypes"]:
            if not _INSTANCE_TYPE.match(it):
                errs.add(f"{key}.instanceTypes", f"{it!r} is not an EC2 instance type", "write it like m6i.large")
        lo, want, hi = merged["minSize"], merged["desiredSize"], merged["maxSize"]
        if lo < 0 or hi < 1:
            errs.add(f"{key}.maxSize", f"sizes min={lo} max={hi}: min must be >= 0 and max >= 1",
                     "use minSize >= 0 and maxSize >= 1")
        if not lo <= want <= hi:
            errs.add(f"{key}.desiredSize", f"min {lo} <= desired {want} <= max {hi} does not hold",
                     "order the sizes so that minSize <= desiredSize <= maxSize")
        if not 20 <= merged["diskSizeGiB"] <= 16384:
            errs.add(f"{key}.diskSizeGiB", f"{merged['diskSizeGiB']} GiB is outside 20..16384",
                     "use at least 20 GiB (AL2023 images need it)")
        for lk, lv in merged["labels"].items():
            if not _K8S_LABEL_KEY.match(str(lk)) or not isinstance(lv, str) or not _K8S_LABEL_VALUE.match(lv):
                errs.add(f"{key}.labels", f"{lk}={lv!r} is not a valid Kubernetes label",
                         "use keys like team or example.com/team and string values of at most 63 characters")
        out.append(NodeGroupConfig(
            name=str(name),
            instance_types=tuple(merged["instanceTypes"]),
            capacity_type=merged["capacityType"],
            min_size=lo,
            desired_size=want,
            max_size=hi,
            disk_size_gib=merged["diskSizeGiB"],
            labels=MappingProxyType(dict(merged["labels"])),
        ))
    if out and sum(g.max_size for g in out) < 1:
        errs.add("nodeGroups", "no group can have a node", "give at least one group maxSize >= 1")
    return tuple(out)


def read_stack_config() -> StackConfig:
    """Read the running stack's configuration once (inside a Pulumi program)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    project = pulumi.get_project()
    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    return parse_config(raw, project=project, stack=pulumi.get_stack(), region=raw.get("aws:region"))
