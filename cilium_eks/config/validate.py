"""The pure validator: plain config values in, a ``StackConfig`` or every problem out.

``parse_config`` takes what ``Pulumi.<stack>.yaml`` holds (or the strings the Pulumi CLI
hands a program) and either returns a ``StackConfig`` or raises a ``ConfigError`` listing
*every* problem, each with its config key and the fix. Nothing is declared before that, so
a bad stack file never produces half a cluster.

The limits it holds values to are AWS's, EKS's, Kubernetes' and Pulumi's, each cited where it is
checked. Two inputs need more than this package knows: the chart's own schema and keys (an
optional ``chart_check`` the tooling builds from the pinned chart's reference data), and what the
region really offers (the Network component asks the provider at deploy time:
``deploytime``).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
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
    helm_values,
    operator_replicas,
    parse_version,
)
from ..eks import CAPACITY_TYPES, CONTROL_PLANE_LOG_TYPES, ClusterSpec, NodeGroupSpec
from ..karpenter import (
    ARCHITECTURES as KARPENTER_ARCHITECTURES,
)
from ..karpenter import (
    CAPACITY_TYPES as KARPENTER_CAPACITY_TYPES,
)
from ..karpenter import (
    CONSOLIDATION_POLICIES,
    DEFAULT_NODE_POOLS,
    DURATION,
    QUANTITY,
    KarpenterSpec,
    NodePoolSpec,
)
from ..monitoring import MonitoringSpec
from ..network import ExistingVpc, NewVpc, default_subnet_cidrs
from .cross import cross_problems
from .keys import CONFIG_KEYS, CONFIG_KEYS_BY_NAME, DEFAULT_NODE_GROUPS, SECRET_CAPABLE_KEYS, ConfigKey
from .model import StackConfig
from .problems import ConfigError, Problem, Severity

# Cilium's cluster.name: at most 32 characters, lower-case alphanumerics and dashes.
_CILIUM_CLUSTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# IAM role/user ARNs, with an optional path (IAM names: `[\w+=,.@-]`; paths `/.../`).
_IAM_PRINCIPAL_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<kind>role|user)"
                                r"/(?P<path>(?:[\x21-\x7e]+/)?)(?P<name>[\w+=,.@-]{1,128})$")
_STS_SESSION_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/"
                              r"(?P<role>[\w+=,.@-]+)/(?P<session>.+)$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

#: EKS service quotas (https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html, the quota
#: table, as stored at docs.amazonaws.cn/en_us/eks/latest/userguide/service-quotas.html): "Nodes per
#: managed node group | 450 | Adjustable: Yes", "Managed node groups per cluster | 30 | Yes", "Public
#: endpoint access CIDR ranges per cluster | 40 | No" (code L-93A74D60; /work/research/pulumi-facts.md E4).
#: The adjustable ones are held at their defaults: raise them here after AWS raised the account's quota.
NODES_PER_MANAGED_NODE_GROUP = 450
MANAGED_NODE_GROUPS_PER_CLUSTER = 30
PUBLIC_ACCESS_CIDRS_PER_CLUSTER = 40

#: pulumi-eks hands ``nodeGroupNamePrefix`` straight to aws.eks.NodeGroup (pulumi-eks v4.3.0
#: nodegroup.ts L2008, L2095), whose ``node_group_name_prefix`` the AWS provider validates with
#: ``StringLenBetween(0, 63-id.UniqueIDSuffixLength)`` and ``UniqueIDSuffixLength = 26``
#: (terraform-provider-aws internal/service/eks/node_group.go; terraform-plugin-sdk helper/id/id.go):
#: at most 37 characters (EKS: "The node group name can't be longer than 63 characters",
#: create-managed-node-group.adoc; /work/research/pulumi-facts.md A4, D, E2).
NODE_GROUP_NAME_PREFIX_MAX = 37

#: EKS refuses managed node group labels under these (CreateNodegroup InvalidParameterException "Label
#: cannot contain reserved prefixes [kubernetes.io/, k8s.io/, eks.amazonaws.com/]", eksctl-io/eksctl#4007;
#: aws/containers-roadmap#1451). pulumi-eks also passes the labels to kubelet as --node-labels when it
#: writes the user data, as it does for this program's node groups (userdata.ts L377-387,
#: /work/research/pulumi-facts.md A2, E3), and kubelet exits on any `kubernetes.io`/`k8s.io` label outside
#: its small allowed set (kubernetes cmd/kubelet/app/options/options.go ValidateKubeletFlags,
#: isKubernetesLabel): the node never joins.
RESERVED_LABEL_PREFIXES = ("kubernetes.io/", "k8s.io/", "eks.amazonaws.com/")
#: EKS: label "Key Length Constraints: Minimum length of 1. Maximum length of 63. Value Length
#: Constraints: Minimum length of 1. Maximum length of 63." (EKS API reference, UpdateLabelsPayload):
#: stricter than Kubernetes (a 253-character prefix, an empty value).
EKS_LABEL_MAX = 63

#: Blocks the public API endpoint cannot admit: "The block cannot include reserved addresses" (EKS
#: user guide, clusters/cluster-endpoint.adoc L145). RFC 1918 private space, shared address space
#: (RFC 6598), loopback, link-local, multicast and the reserved 240/4 never reach a public endpoint.
NON_PUBLIC_RANGES = tuple(ipaddress.IPv4Network(c) for c in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "224.0.0.0/4", "240.0.0.0/4"))

#: Namespaces of the providers this program's stacks configure: their keys are theirs.
PROVIDER_NAMESPACES = ("aws", "eks", "kubernetes", "command", "pulumi")

#: Checks the complete values of the Cilium release against the pinned chart: (chart version, values)
#: -> every problem, each a sentence starting with the value path in backticks, or None when no
#: reference data for that chart version is at hand. The tooling builds it from ``tooling.contracts``.
ChartCheck = Callable[[str, Mapping[str, Any]], Sequence[str] | None]


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
        return _text(raw)
    if t == "boolean":
        # Pulumi accepts exactly "true" or "false" for a key Pulumi.yaml types boolean
        # (sdk/go/common/workspace/project.go ValidateConfigValue L798-807): `yes`, `no`, `on`,
        # `off` and `True` written as text are refused before the program runs.
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        errs.add(key.name, f"expected true or false, got {raw!r} (Pulumi refuses anything else for a boolean key; "
                 "in YAML 1.2, which Pulumi reads, `yes`, `no`, `on` and `off` are text)",
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


def _text(raw: Any) -> str:
    """A scalar as the text Pulumi would hand the program (JSON for booleans and numbers)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e21:
        return str(int(raw))
    return str(raw)


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


def _namespace_problems(foreign: Sequence[str], project: str, errs: _Collector) -> None:
    """Keys in another namespace that are this project's keys misspelled: Pulumi passes them on and
    nothing reads them, so a typo'd `environment` would silently leave a stack without its checks."""
    def norm(text: str) -> str:
        return text.lower().replace("_", "-")

    for full in foreign:
        ns, _, short = full.partition(":")
        close = norm(ns) == norm(project) or difflib.SequenceMatcher(None, norm(ns), norm(project)).ratio() >= 0.8
        ours = short in CONFIG_KEYS_BY_NAME and ns not in PROVIDER_NAMESPACES
        if close or ours:
            errs.problems.append(Problem(
                full, f"is in the namespace `{ns}`, which nothing reads; "
                f"{'a misspelling of' if close else 'the key belongs to'} this project's `{project}`, so the value "
                "is silently ignored", f"rename it to `{project}:{short}` (or remove it)"))


def _secret_problems(secret_keys: Collection[str], project: str, errs: _Collector) -> frozenset[str]:
    """The project's keys set as secrets; a secret the program would put in plain text is refused."""
    own = frozenset(k.partition(":")[2] if ":" in k else k for k in secret_keys
                    if ":" not in k or k.partition(":")[0] == project)
    for key in sorted(own):
        if key in CONFIG_KEYS_BY_NAME and key not in SECRET_CAPABLE_KEYS:
            errs.add(key, "is set as a secret (`pulumi config set --secret`), but this program writes its value in "
                     "plain text into resource names and inputs, so the state and previews would show it",
                     f"set it without --secret (`pulumi config set {key} ...`): it is not meant to hold a secret; "
                     f"only {', '.join(sorted(SECRET_CAPABLE_KEYS))} is carried as a secret")
    return own


def parse_config(raw: Mapping[str, Any], *, project: str, stack: str, region: str | None,
                 deploying: bool = False, secret_keys: Collection[str] = (),
                 chart_check: ChartCheck | None = None) -> StackConfig:
    """Validate a stack's raw configuration and return the typed model.

    ``raw`` maps config keys (``cilium-eks:vpcCidr`` or ``vpcCidr``) to values as a stack
    file holds them. Raises ``ConfigError`` with every problem that stops this entry:
    errors always, ``deploy`` problems when ``deploying`` (a `pulumi up`, not a preview or
    the offline plan). The rest come back in ``StackConfig.warnings``. ``secret_keys`` are the
    keys Pulumi reports as secret (namespaced or not); ``chart_check`` (optional) checks the
    release's values against the pinned chart's schema and keys.
    """
    errs = _Collector(project)
    own, foreign = _strip_namespace(raw, project)
    _namespace_problems(foreign, project, errs)
    secrets = _secret_problems(secret_keys, project, errs)

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
            value = v[key.name]
            # Pulumi reads the stack file as YAML 1.2: an unquoted 1.30 is the number 1.3 and reaches
            # the program as "1.3" (tooling/stackfiles.py has the sources).
            quoted = next((c for c in key.choices if re.fullmatch(r"\d+\.\d+0", c) and c.rstrip("0") == value),
                          None)
            hint = (f"; an unquoted {quoted} in YAML is the number {value}: quote it, `{key.name}: '{quoted}'`"
                    if quoted else "")
            errs.add(key.name, f"{value!r} is not one of {', '.join(key.choices)}{hint}",
                     f"`pulumi config set {key.name} {quoted or key.default}`")

    if not _CILIUM_CLUSTER_NAME.match(f"{project}-{stack}"):
        errs.add("(project and stack name)",
                 f"the cluster name '{project}-{stack}' must be at most 32 lower-case letters, "
                 "digits and dashes (Cilium's cluster.name and EKS naming)",
                 "use a shorter, lower-case stack name (`pulumi stack rename`)")

    network = _parse_network(v, errs)
    cluster = _parse_cluster(v, errs)
    cilium = _parse_cilium(v, errs)
    node_groups = _parse_node_groups(v["nodeGroups"], errs)
    _check_node_group_names(node_groups, project, stack, errs)
    karpenter = _parse_karpenter(v, errs)

    if v["environment"] != "development" and cluster.endpoint_public_access:
        whole = _whole_internet(cluster.public_access_cidrs)
        if whole:
            errs.add("publicAccessCidrs", f"{' + '.join(whole)} opens the Kubernetes API to the whole internet "
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
        karpenter=karpenter,
        hubble_ui_access=v["hubbleUiAccess"],
        demo_enabled=v["demoEnabled"],
        demo_policy=v["demoPolicy"],
        monitoring=MonitoringSpec(grafana_access=v["grafanaAccess"], amp_remote_write=v["ampRemoteWrite"]),
        secret_keys=secrets,
    )
    if chart_check is not None:
        _chart_problems(cfg, chart_check, errs)
    # Rules across keys need every key valid on its own; they run once that holds.
    if not any(p.severity == "error" for p in errs.problems):
        cross_problems(cfg, errs.add)
    blocking = [p for p in errs.problems if p.blocks(deploying)]
    if blocking:
        raise ConfigError(stack, blocking)
    return replace(cfg, warnings=tuple(errs.problems))


def _whole_internet(cidrs: Sequence[str]) -> list[str]:
    """The blocks that together admit every address of an IP version (``0.0.0.0/0``, or its halves
    ``0.0.0.0/1`` + ``128.0.0.0/1``, ...), or none."""
    nets: dict[int, list[Any]] = {4: [], 6: []}
    spelled: dict[int, list[str]] = {4: [], 6: []}
    for c in cidrs:
        try:
            net = ipaddress.ip_network(c, strict=False)
        except ValueError:
            continue
        nets[net.version].append(net)
        spelled[net.version].append(c)
    for version, found in nets.items():
        if found and any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(found)):
            return spelled[version]
    return []


def _cidr_problem(cidr: Any) -> str | None:
    """Why ``cidr`` is not a CIDR block written out, or None. Python's ``ipaddress`` reads a bare
    address as a /32: a CIDR key requires the prefix length, so `203.0.113.7` never means a /32 nobody
    meant (or a /24 somebody did)."""
    if not isinstance(cidr, str) or "/" not in cidr:
        return f"{cidr!r} has no prefix length: a CIDR block is written address/length"
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return f"{cidr!r} is not a network address (host bits set or malformed)"
    return None


def _network(cidr: str) -> ipaddress.IPv4Network | None:
    if _cidr_problem(cidr) is not None:
        return None
    net = ipaddress.ip_network(cidr, strict=True)
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
        why = _cidr_problem(vpc_cidr) or f"{vpc_cidr!r} is not an IPv4 network"
        errs.add("vpcCidr", f"{why}: not an IPv4 network address (e.g. 10.0.0.0/16, no host bits set)",
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
                why = _cidr_problem(c) or f"{c!r} is not an IPv4 network"
                errs.add(key, f"{why} (an IPv4 network address is expected)",
                         "write it like 10.0.0.0/19, with the prefix length and no host bits set")
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
        why = _cidr_problem(c)
        if why is not None:
            errs.add("publicAccessCidrs", why, "write CIDRs with their prefix length, like 203.0.113.0/24, or "
                     "198.51.100.7/32 for one address")
            continue
        net = ipaddress.ip_network(c)
        inside = next((r for r in NON_PUBLIC_RANGES if isinstance(net, ipaddress.IPv4Network) and net.subnet_of(r)),
                      None)
        if inside is not None:
            errs.add("publicAccessCidrs", f"{c} lies in {inside}, which is not public address space: the public "
                     "endpoint is reached from the internet and EKS refuses blocks of reserved addresses",
                     "list the public egress address of your VPN or runner (e.g. `curl -s "
                     "https://checkip.amazonaws.com`, then /32); to reach the API from inside the VPC, keep "
                     "endpointPrivateAccess true instead")
    if len(cidrs) > PUBLIC_ACCESS_CIDRS_PER_CLUSTER:
        errs.add("publicAccessCidrs", f"{len(cidrs)} CIDR blocks; EKS accepts at most "
                 f"{PUBLIC_ACCESS_CIDRS_PER_CLUSTER} per cluster (a quota AWS does not raise)",
                 "merge neighbouring blocks into larger ones, or reach the API through a VPN into the VPC "
                 "(endpointPrivateAccess)")
    for c in sorted({c for c in cidrs if cidrs.count(c) > 1}):
        errs.add("publicAccessCidrs", f"{c} is listed {cidrs.count(c)} times", "list each block once")
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
    _check_admin_arns(v["clusterAdminArns"], errs)
    return ClusterSpec(
        kubernetes_version=v["kubernetesVersion"],
        endpoint_private_access=v["endpointPrivateAccess"],
        endpoint_public_access=v["endpointPublicAccess"],
        public_access_cidrs=cidrs,
        log_types=tuple(v["clusterLogTypes"]),
        admin_arns=tuple(v["clusterAdminArns"]),
    )


def _check_admin_arns(arns: Sequence[str], errs: _Collector) -> None:
    """EKS access entries take "the ARN of one, and only one, existing IAM principal. An IAM
    principal can't be included in more than one access entry"; "if the ARN is for an IAM role, it
    can include a path" (EKS user guide, manage-access/k8s-access/grant-k8s-access.adoc L202-205).
    An STS session ARN (`assumed-role/<role>/<session>`, what `aws sts get-caller-identity` prints)
    names no IAM principal. IAM names are unique in an account whatever the path, and "Names are not
    distinguished by case" (IAM API CreateRole, RoleName): two ARNs with one name are one principal."""
    seen: dict[tuple[str, str, str, str], str] = {}
    for arn in arns:
        session = _STS_SESSION_ARN.match(arn)
        if session:
            errs.add("clusterAdminArns", f"{arn!r} is an STS session of the role {session['role']}, not an IAM "
                     "principal: an EKS access entry needs the role's IAM ARN",
                     f"use arn:{session['partition']}:iam::{session['account']}:role/{session['role']} (with the "
                     f"role's path if it has one: `aws iam get-role --role-name {session['role']} --query Role.Arn`)")
            continue
        m = _IAM_PRINCIPAL_ARN.match(arn)
        if not m:
            errs.add("clusterAdminArns", f"{arn!r} is not an IAM role or user ARN",
                     "use arn:aws:iam::<account>:role/<name> (a path, role/<path>/<name>, is allowed)")
            continue
        ident = (m["partition"], m["account"], m["kind"], m["name"].lower())
        if ident in seen:
            same = ("is listed twice" if seen[ident] == arn else f"names the same {m['kind']} as {seen[ident]!r} "
                    "(IAM names are unique in an account whatever their path or case)")
            errs.add("clusterAdminArns", f"{arn!r} {same}; EKS allows one access entry per principal",
                     "list each principal once, with its real path")
        else:
            seen[ident] = arn


def _chart_problems(cfg: StackConfig, chart_check: ChartCheck, errs: _Collector) -> None:
    """ciliumExtraValues against the pinned chart (its values.schema.json, and the keys its values.yaml
    defines: Helm ignores an unknown key without a word), on the release's complete values."""
    cilium_keys = ("ciliumVersion", "ciliumExtraValues", "ciliumKubeProxyReplacement", "ciliumPrefixDelegation")
    if any(p.severity == "error" and p.key.split(":", 1)[-1].split(".")[0] in cilium_keys for p in errs.problems):
        return  # the values cannot be built, or are refused already
    values = helm_values(cfg.cilium, cluster_name=cfg.cluster_name, operator_replicas=operator_replicas(
        cfg.total_min_nodes), operator_role_arn="<role>", api_server_host="<host>")
    found = chart_check(cfg.cilium_version, values)
    if found is None:
        errs.add("ciliumExtraValues", f"not checked against the cilium {cfg.cilium_version} chart: no reference "
                 "data for that version", "run `make reference` (or pin a version the reference data has)",
                 "warning")
        return
    extra = set(flatten(cfg.cilium.extra_values))
    for message in found:
        m = re.match(r"^`([^`]*)`", message)
        path = m[1] if m else ""
        mine = any(path == e or path.startswith(e + ".") or e.startswith(path + ".") for e in extra)
        undefined = "is not defined by" in message
        suggestion = re.search(r"; (did you mean `[^`]*`\?)$", message)
        if suggestion:
            message = message[:suggestion.start()]
        fix = ("fix the key's spelling or remove it: Helm ignores a key the chart does not define" if undefined
               else "give it the type and value the chart's values.schema.json asks for")
        fix = f"{suggestion[1]} {fix[0].upper()}{fix[1:]}" if suggestion else fix
        errs.add(f"ciliumExtraValues.{path}" if mine and path else "ciliumExtraValues",
                 f"the cilium {cfg.cilium_version} chart refuses it: {message}", fix)


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
                     "remove it; use the dedicated config key (ciliumKubeProxyReplacement, hubbleUiAccess, "
                     "ciliumEncryption, observability, ...)")
    kpr = flat.get("kubeProxyReplacement")
    if isinstance(kpr, str) and kpr in LEGACY_KUBE_PROXY_REPLACEMENT:
        errs.add("ciliumExtraValues.kubeProxyReplacement", f"{kpr!r} was removed in Cilium 1.15",
                 "use ciliumKubeProxyReplacement true/false")
    return CiliumOptions(
        kube_proxy_replacement=v["ciliumKubeProxyReplacement"],
        prefix_delegation=v["ciliumPrefixDelegation"],
        extra_values=extra,
        encryption=v["ciliumEncryption"],
        observability=v["observability"],
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


def node_group_name_prefix(project: str, stack: str, group: str) -> str:
    """The ``nodeGroupNamePrefix`` components/node_group.py gives pulumi-eks for a group."""
    return f"{project}-{stack}-{group}-"


def _check_node_group_names(groups: Sequence[NodeGroupSpec], project: str, stack: str, errs: _Collector) -> None:
    for g in groups:
        prefix = node_group_name_prefix(project, stack, g.name)
        if len(prefix) > NODE_GROUP_NAME_PREFIX_MAX:
            room = NODE_GROUP_NAME_PREFIX_MAX - len(node_group_name_prefix(project, stack, ""))
            errs.add(f"nodeGroups.{g.name}", f"the node group name prefix {prefix!r} is {len(prefix)} characters; "
                     f"EKS node group names are at most 63, and the AWS provider appends 26 to the prefix, so it "
                     f"may have {NODE_GROUP_NAME_PREFIX_MAX}",
                     f"rename the group to at most {room} characters" if room > 0 else
                     "use a shorter stack name (`pulumi stack rename`)")


def _check_labels(key: str, labels: Mapping[Any, Any], errs: _Collector) -> None:
    for lk, lv in labels.items():
        label = f"{lk}={lv!r}"
        if not isinstance(lk, str) or not isinstance(lv, str):
            errs.add(f"{key}.labels", f"{label}: keys and values must be text", "quote the value, e.g. `team: 'true'`")
            continue
        prefix, _, name = lk.rpartition("/")
        reserved = next((r for r in RESERVED_LABEL_PREFIXES if r in lk), None)
        if reserved is not None:
            errs.add(f"{key}.labels", f"{lk!r} is under {reserved}: EKS refuses labels with that prefix on a managed "
                     "node group, and kubelet refuses most of them in --node-labels, so the node would never join",
                     "use your own prefix (e.g. example.com/role); node-role labels can be added after the node "
                     "joined (`kubectl label node`)")
        elif len(lk) > EKS_LABEL_MAX:
            errs.add(f"{key}.labels", f"the key {lk!r} is {len(lk)} characters: EKS accepts at most {EKS_LABEL_MAX} "
                     "for the whole key, prefix included", "shorten the key (or its prefix)")
        elif not name or len(name) > 63 or not _LABEL_NAME.match(name) or (
                "/" in lk and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
            errs.add(f"{key}.labels", f"{label} is not a valid Kubernetes label key (name: letters, digits, `-_.`, "
                     "at most 63; optional prefix: a lower-case DNS subdomain and `/`)",
                     "use keys like team or example.com/team")
        if lv == "":
            errs.add(f"{key}.labels", f"{lk!r} has an empty value: EKS requires 1 to {EKS_LABEL_MAX} characters",
                     "give it a value (e.g. `true`, quoted)")
        elif len(lv) > EKS_LABEL_MAX or not _LABEL_NAME.match(lv):
            errs.add(f"{key}.labels", f"{label} is not a valid label value (at most {EKS_LABEL_MAX} letters, digits "
                     "and `-_.`, starting and ending with a letter or digit)", "shorten or simplify the value")


def _named_settings(entries: Mapping[str, Any], section: str, noun: str, rename: str, fields: Collection[str],
                    defaults: Mapping[str, Any], errs: _Collector) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The entries of a map from name to settings (``nodeGroups``, ``karpenterNodePools``): each name must
    fit AWS resource names and each entry be a map of known fields (a typo gets a did-you-mean). Yields
    (name, its config key, its settings over ``defaults``) for every entry that is a map."""
    for name, spec in entries.items():
        key = f"{section}.{name}"
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", str(name)):
            errs.add(key, f"{noun} name {name!r} must be 1-20 lower-case letters, digits or dashes", rename)
        if not isinstance(spec, dict):
            errs.add(key, f"expected a map of settings, got {spec!r}", "see docs/configuration.md for the fields")
            continue
        for f in spec:
            if f not in fields:
                close = difflib.get_close_matches(f, list(fields), n=1)
                errs.add(f"{key}.{f}", f"is not a {noun} setting",
                         f"remove it{'; did you mean `' + close[0] + '`?' if close else ''}")
        yield str(name), key, {**defaults, **spec}


def _parse_node_groups(groups: Mapping[str, Any], errs: _Collector) -> tuple[NodeGroupSpec, ...]:
    if not groups:
        errs.add("nodeGroups", "no node group: Cilium and every workload need nodes",
                 "declare at least one group under nodeGroups")
        return ()
    if len(groups) > MANAGED_NODE_GROUPS_PER_CLUSTER:
        errs.add("nodeGroups", f"{len(groups)} node groups; EKS allows {MANAGED_NODE_GROUPS_PER_CLUSTER} managed "
                 "node groups per cluster (its default quota)", "merge groups that share instance types")
    out: list[NodeGroupSpec] = []
    for name, key, merged in _named_settings(groups, "nodeGroups", "node group",
                                             "rename the group (it becomes part of AWS resource names)",
                                             _NODE_GROUP_FIELDS, DEFAULT_NODE_GROUPS["general"], errs):
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
        # EKS NodegroupScalingConfig: minSize >= 0, maxSize >= 1, desiredSize >= 0 (EKS API reference).
        if lo < 0 or want < 0 or hi < 1:
            errs.add(f"{key}.maxSize", f"sizes min={lo} desired={want} max={hi}: min and desired must be >= 0 and "
                     "max >= 1", "use minSize >= 0, desiredSize >= 0 and maxSize >= 1")
        if hi > NODES_PER_MANAGED_NODE_GROUP:
            errs.add(f"{key}.maxSize", f"{hi} nodes; EKS allows {NODES_PER_MANAGED_NODE_GROUP} nodes per managed node "
                     "group (its default quota), so creating or scaling the group would fail",
                     f"use maxSize <= {NODES_PER_MANAGED_NODE_GROUP} and split larger capacity over several groups "
                     "(the quota is per group)")
        if not lo <= want <= hi:
            errs.add(f"{key}.desiredSize", f"min {lo} <= desired {want} <= max {hi} does not hold",
                     "order the sizes so that minSize <= desiredSize <= maxSize")
        if not 20 <= merged["diskSizeGiB"] <= 16384:
            errs.add(f"{key}.diskSizeGiB", f"{merged['diskSizeGiB']} GiB is outside 20..16384",
                     "use at least 20 GiB (AL2023 images need it)")
        _check_labels(key, merged["labels"], errs)
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


# --------------------------------------------------------------------------------------
# Karpenter
# --------------------------------------------------------------------------------------

#: The fields of one `karpenterNodePools` entry: how each is checked, and the type a fix names.
_NODE_POOL_FIELDS: Mapping[str, tuple[Callable[[Any], bool], str]] = MappingProxyType({
    "instanceCategories": (lambda x: isinstance(x, list) and bool(x) and all(isinstance(i, str) for i in x),
                           "a non-empty list of strings, e.g. [c, m, r]"),
    "instanceFamilies": (lambda x: isinstance(x, list) and all(isinstance(i, str) for i in x),
                         "a list of strings, e.g. [m6i, m7i] ([] for every family of the categories)"),
    "architectures": (lambda x: isinstance(x, list) and bool(x) and all(isinstance(i, str) for i in x),
                      "a non-empty list of amd64 and/or arm64"),
    "capacityTypes": (lambda x: isinstance(x, list) and bool(x) and all(isinstance(i, str) for i in x),
                      "a non-empty list of on-demand and/or spot"),
    "minGeneration": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer, e.g. 5"),
    "minVcpus": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer, e.g. 4"),
    "maxVcpus": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer, e.g. 16"),
    "cpuLimit": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer number of vCPUs, e.g. 64"),
    "memoryLimit": (lambda x: isinstance(x, str), "a quantity string, e.g. 256Gi"),
    "consolidationPolicy": (lambda x: isinstance(x, str), "a string"),
    "consolidateAfter": (lambda x: isinstance(x, str), "a duration string, e.g. 5m"),
    "expireAfter": (lambda x: isinstance(x, str), "a duration string, e.g. 720h"),
    "diskSizeGiB": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer, e.g. 50"),
})
_CATEGORY = re.compile(r"^[a-z]+$")
_FAMILY = re.compile(r"^[a-z][a-z0-9-]*$")


def _parse_karpenter(v: Mapping[str, Any], errs: _Collector) -> KarpenterSpec:
    """`karpenterEnabled` and `karpenterNodePools`. The pools are checked whether or not Karpenter is on, so
    turning it on never reveals a problem that was there all along; what needs Cilium's addressing (the
    instance types a pool allows, its max pods) is a rule across keys (``cross.py``)."""
    enabled = bool(v["karpenterEnabled"])
    pools = v["karpenterNodePools"]
    if not pools:
        if enabled:
            errs.add("karpenterNodePools", "no NodePool: Karpenter would run but never launch a node",
                     "declare at least one pool under karpenterNodePools, or set karpenterEnabled false")
        return KarpenterSpec(enabled=enabled)
    out: list[NodePoolSpec] = []
    for name, key, merged in _named_settings(pools, "karpenterNodePools", "NodePool",
                                             "rename the pool (it names the NodePool, its EC2NodeClass and AWS tags)",
                                             _NODE_POOL_FIELDS, DEFAULT_NODE_POOLS["default"], errs):
        bad = [f for f, (check, _) in _NODE_POOL_FIELDS.items() if not check(merged[f])]
        for f in bad:
            errs.add(f"{key}.{f}", f"invalid value {merged[f]!r}", f"use {_NODE_POOL_FIELDS[f][1]}")
        if bad:
            continue
        n_errors = len(errs.problems)
        for c in merged["instanceCategories"]:
            if not _CATEGORY.match(c):
                errs.add(f"{key}.instanceCategories", f"{c!r} is not an instance category (the letters before the "
                         "generation: `m` of m6i, `inf` of inf2)", "use lower-case letters, e.g. c, m, r")
        for fam in merged["instanceFamilies"]:
            if not _FAMILY.match(fam):
                errs.add(f"{key}.instanceFamilies", f"{fam!r} is not an instance family", "write it like m6i")
            elif (cat := re.match(r"[a-z]+", fam)) and cat[0] not in merged["instanceCategories"]:
                errs.add(f"{key}.instanceFamilies", f"{fam} is of category {cat[0]!r}, which instanceCategories "
                         f"({merged['instanceCategories']}) does not list: Karpenter requires both, so it would "
                         "never launch it", f"add {cat[0]!r} to instanceCategories or remove {fam}")
        for a in merged["architectures"]:
            if a not in KARPENTER_ARCHITECTURES:
                errs.add(f"{key}.architectures", f"{a!r} is not amd64 or arm64", "use amd64 and/or arm64")
        for ct in merged["capacityTypes"]:
            if ct not in KARPENTER_CAPACITY_TYPES:
                errs.add(f"{key}.capacityTypes", f"{ct!r} is not on-demand or spot (Karpenter's lower-case "
                         "karpenter.sh/capacity-type values)", "use on-demand and/or spot")
        if merged["minGeneration"] < 1:
            errs.add(f"{key}.minGeneration", f"{merged['minGeneration']} is not a generation",
                     "use 1 or more (5 keeps to Nitro-era c5/m5/r5 and newer)")
        lo, hi = merged["minVcpus"], merged["maxVcpus"]
        if lo < 1 or hi < lo:
            errs.add(f"{key}.maxVcpus", f"minVcpus {lo} and maxVcpus {hi}: need 1 <= minVcpus <= maxVcpus",
                     "order them, e.g. minVcpus 4 and maxVcpus 16")
        if merged["cpuLimit"] < 1:
            errs.add(f"{key}.cpuLimit", f"{merged['cpuLimit']} vCPUs", "use at least 1 (vCPUs over all its nodes)")
        if not QUANTITY.match(merged["memoryLimit"]):
            errs.add(f"{key}.memoryLimit", f"{merged['memoryLimit']!r} is not a memory quantity",
                     "write it like 256Gi (Mi, Gi or Ti)")
        if merged["consolidationPolicy"] not in CONSOLIDATION_POLICIES:
            errs.add(f"{key}.consolidationPolicy", f"{merged['consolidationPolicy']!r} is not one of "
                     f"{', '.join(CONSOLIDATION_POLICIES)}", "use WhenEmptyOrUnderutilized (Karpenter's default)")
        for f in ("consolidateAfter", "expireAfter"):
            if not DURATION.match(merged[f]):
                errs.add(f"{key}.{f}", f"{merged[f]!r} is not a duration", "write it like 30s, 5m, 720h or Never")
        if not 20 <= merged["diskSizeGiB"] <= 16384:
            errs.add(f"{key}.diskSizeGiB", f"{merged['diskSizeGiB']} GiB is outside 20..16384",
                     "use at least 20 GiB (AL2023 images need it)")
        if len(errs.problems) > n_errors:
            continue
        out.append(NodePoolSpec(
            name=str(name),
            instance_categories=tuple(merged["instanceCategories"]),
            instance_families=tuple(merged["instanceFamilies"]),
            architectures=tuple(merged["architectures"]),
            capacity_types=tuple(merged["capacityTypes"]),
            min_generation=merged["minGeneration"],
            min_vcpus=lo,
            max_vcpus=hi,
            cpu_limit=merged["cpuLimit"],
            memory_limit=merged["memoryLimit"],
            consolidation_policy=merged["consolidationPolicy"],
            consolidate_after=merged["consolidateAfter"],
            expire_after=merged["expireAfter"],
            disk_size_gib=merged["diskSizeGiB"],
        ))
    return KarpenterSpec(enabled=enabled, node_pools=tuple(out))
