"""The pure validator: plain config values in, a ``StackConfig`` or every problem out.

``parse_config`` takes what ``Pulumi.<stack>.yaml`` holds (or the strings the Pulumi CLI
hands a program) and either returns a ``StackConfig`` or raises a ``ConfigError`` listing
*every* problem, each with its config key and the fix. Nothing is declared before that, so
a bad stack file never produces half a cluster.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from ..cilium import (
    DEFAULT_VERSION as DEFAULT_CILIUM_VERSION,
)
from ..cilium import (
    LEGACY_KUBE_PROXY_REPLACEMENT,
    MIN_VERSION,
    NEWEST_MINOR,
    OWNED_VALUES,
    REMOVED_VALUES,
    CiliumOptions,
    flatten,
    parse_version,
)
from ..eks import CAPACITY_TYPES, CONTROL_PLANE_LOG_TYPES, ClusterSpec, NodeGroupSpec
from ..network import ExistingVpc, NewVpc, default_subnet_cidrs
from .cross import cross_problems
from .keys import CONFIG_KEYS, CONFIG_KEYS_BY_NAME, DEFAULT_NODE_GROUPS, ConfigKey
from .model import StackConfig
from .problems import ConfigError, Problem, Severity

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
# Parsing
# --------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, project: str) -> None:
        self.project = project
        self.problems: list[Problem] = []

    def add(self, key: str, what: str, fix: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(f"{self.project}:{key}", what, fix, severity))


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


def parse_config(raw: Mapping[str, Any], *, project: str, stack: str, region: str | None,
                 deploying: bool = False) -> StackConfig:
    """Validate a stack's raw configuration and return the typed model.

    ``raw`` maps config keys (``cilium-eks:vpcCidr`` or ``vpcCidr``) to values as a stack
    file holds them. Raises ``ConfigError`` with every problem that stops this entry:
    errors always, ``deploy`` problems when ``deploying`` (a `pulumi up`, not a preview or
    the offline plan). The rest come back in ``StackConfig.warnings``.
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

    if v["environment"] != "development" and cluster.endpoint_public_access:
        for c in cluster.public_access_cidrs:
            if _is_whole_internet(c):
                errs.add("publicAccessCidrs", f"{c} opens the Kubernetes API to the whole internet "
                         f"in a {v['environment']} stack (only `environment: development` allows it)",
                         "list only your office/VPN/CI egress CIDRs, or set endpointPublicAccess false")

    if not re.fullmatch(r"v\d{8}", v["nodeAmiRelease"]):
        errs.add("nodeAmiRelease", f"{v['nodeAmiRelease']!r} is not an AMI release (`vYYYYMMDD`)",
                 "pin a release of https://github.com/awslabs/amazon-eks-ami/releases, e.g. "
                 f"`pulumi config set nodeAmiRelease {CONFIG_KEYS_BY_NAME['nodeAmiRelease'].default}`")
    if not v["deployRunner"] or not all(label.strip() for label in v["deployRunner"]):
        errs.add("deployRunner", "no runner label (or an empty one) is given",
                 "list the labels of the runner that deploys this stack, e.g. `[ubuntu-latest]`")

    cfg = StackConfig(
        project=project,
        stack=stack,
        region=str(region),
        environment=v["environment"],
        vpc_cidr=v["vpcCidr"],
        network=network,
        cluster=cluster,
        node_ami_release=v["nodeAmiRelease"],
        aws_node_mode=v["awsNodeMode"],
        cilium_version=v["ciliumVersion"],
        cilium=cilium,
        node_groups=node_groups,
        hubble_ui_access=v["hubbleUiAccess"],
        demo_enabled=v["demoEnabled"],
        demo_policy=v["demoPolicy"],
    )
    # Rules across keys need every key valid on its own; they run once that holds.
    if not any(p.severity == "error" for p in errs.problems):
        cross_problems(cfg, errs.add)
    blocking = [p for p in errs.problems if p.blocks(deploying)]
    if blocking:
        raise ConfigError(stack, blocking)
    return replace(cfg, warnings=tuple(errs.problems))


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


def _parse_network(v: Mapping[str, Any], errs: _Collector) -> NewVpc | ExistingVpc:
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
    if existing is not None:
        return ExistingVpc(vpc_id=existing, private_subnet_ids=priv_ids, public_subnet_ids=pub_ids)
    return NewVpc(cidr=vpc_cidr, availability_zone_count=az, nat_gateways=v["natGateways"],
                  public_subnet_cidrs=public, private_subnet_cidrs=private)


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


def _parse_cluster(v: Mapping[str, Any], errs: _Collector) -> ClusterSpec:
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
    return ClusterSpec(
        kubernetes_version=v["kubernetesVersion"],
        endpoint_private_access=v["endpointPrivateAccess"],
        endpoint_public_access=v["endpointPublicAccess"],
        public_access_cidrs=cidrs,
        log_types=tuple(v["clusterLogTypes"]),
        admin_arns=tuple(v["clusterAdminArns"]),
    )


def _parse_cilium(v: Mapping[str, Any], errs: _Collector) -> CiliumOptions:
    version = v["ciliumVersion"]
    parsed = parse_version(version)
    if parsed is None:
        errs.add("ciliumVersion", f"{version!r} is not an exact x.y.z version",
                 f"pin a release, e.g. `pulumi config set ciliumVersion {DEFAULT_CILIUM_VERSION}`")
    elif parsed < MIN_VERSION:
        errs.add("ciliumVersion", f"{version} is older than 1.16.0, whose ENI defaults this program relies on",
                 f"use {DEFAULT_CILIUM_VERSION}")
    elif parsed[:2] > NEWEST_MINOR:
        errs.add("ciliumVersion", f"{version} is newer than the newest chart this program was checked "
                 f"against ({NEWEST_MINOR[0]}.{NEWEST_MINOR[1]}.x)",
                 f"use {DEFAULT_CILIUM_VERSION}, or check the new chart's values and raise NEWEST_MINOR "
                 "in cilium_eks/cilium.py")

    extra = v["ciliumExtraValues"]
    flat = flatten(extra)
    for path in flat:
        for removed, why in REMOVED_VALUES.items():
            if path == removed or path.startswith(removed + "."):
                errs.add(f"ciliumExtraValues.{path}", f"`{path}` is {why}", f"remove `{path}` from ciliumExtraValues")
        if path in OWNED_VALUES:
            errs.add(f"ciliumExtraValues.{path}", f"`{path}` is set by the program (ENI IPAM, IRSA, "
                     "Hubble and ordering depend on it)",
                     "remove it; use the dedicated config key (ciliumKubeProxyReplacement, hubbleUiAccess, ...)")
    kpr = flat.get("kubeProxyReplacement")
    if isinstance(kpr, str) and kpr in LEGACY_KUBE_PROXY_REPLACEMENT:
        errs.add("ciliumExtraValues.kubeProxyReplacement", f"{kpr!r} was removed in Cilium 1.15",
                 "use ciliumKubeProxyReplacement true/false")
    return CiliumOptions(
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


def _parse_node_groups(groups: Mapping[str, Any], errs: _Collector) -> tuple[NodeGroupSpec, ...]:
    if not groups:
        errs.add("nodeGroups", "no node group: Cilium and every workload need nodes",
                 "declare at least one group under nodeGroups")
        return ()
    defaults = DEFAULT_NODE_GROUPS["general"]
    out: list[NodeGroupSpec] = []
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
        out.append(NodeGroupSpec(
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
