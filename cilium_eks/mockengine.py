"""One mock engine for the unit tests, the policy tests and the offline plan.

It runs the real ``__main__.py`` of this project under ``pulumi.runtime.set_mocks`` and
records what a real engine would receive: each resource's type, inputs, parent,
provider, dependencies (explicit and per property) and options, plus the stack outputs
with their secretness.

It behaves like the real engine where this program depends on it:

* pulumi-eks components are *remote*: their outputs come back as resource references
  (``eksCluster``, ``core.provider``, ...) that the SDK rehydrates into real resource
  objects through ``pulumi:pulumi:getResource``. The children a real eks provider would
  register (the aws.eks.Cluster, the OIDC provider, add-ons it manages) are recorded as
  "synthetic" children, so the graph shows what pulumi-eks would really create.
* inputs are decoded from the wire format without rehydrating resource references.
  Rehydrating them on the monitor's thread is what hangs the SDK's default mock monitor
  ("attached to a different loop") when a resource is passed to a remote component, e.g.
  ``cluster=`` on ``eks.ManagedNodeGroup``. Here they stay ``ResourceRef(urn)``.
* unexpected invokes fail loudly instead of returning empty data.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Wire-format signatures (pulumi/sdk/proto: rpc.py).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

ACCOUNT_ID = "123456789012"


# --------------------------------------------------------------------------------------
# Recorded values
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRef:
    """A resource passed by reference (what the engine sees for `cluster=cluster`)."""

    urn: str
    id: str | None = None

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.split("::")[3]


@dataclass(frozen=True)
class Secret:
    """A value the engine would encrypt in state and mask in previews."""

    value: Any


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    remote: bool
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    outputs: dict[str, Any]
    id: str | None
    options: dict[str, Any] = field(default_factory=dict)
    #: registered by the mock on behalf of a remote component's provider, not by this program
    synthetic: bool = False
    #: what the component passed to register_outputs (components only)
    registered_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def explicit_dependencies(self) -> frozenset[str]:
        """Dependencies that no input carries: the `depends_on` of the program."""
        via_data = {u for urns in self.property_dependencies.values() for u in urns}
        return frozenset(set(self.dependencies) - via_data)


@dataclass
class Graph:
    project: str
    stack: str
    resources: dict[str, RecordedResource]
    outputs: dict[str, Any]
    stack_urn: str

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources.values())

    def of_type(self, type_: str, *, synthetic: bool | None = None) -> list[RecordedResource]:
        return [r for r in self if r.type == type_ and (synthetic is None or r.synthetic == synthetic)]

    def one(self, type_: str) -> RecordedResource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}: {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name}, found {len(found)}")
        return found[0]

    def get(self, urn: str) -> RecordedResource:
        return self.resources[urn]

    def children(self, urn: str) -> list[RecordedResource]:
        return [r for r in self if r.parent == urn]

    def descendants(self, urn: str) -> list[RecordedResource]:
        out: list[RecordedResource] = []
        stack = [urn]
        while stack:
            kids = self.children(stack.pop())
            out += kids
            stack += [k.urn for k in kids]
        return out

    def ancestors(self, urn: str) -> list[RecordedResource]:
        out: list[RecordedResource] = []
        parent = self.resources[urn].parent
        while parent and parent in self.resources:
            out.append(self.resources[parent])
            parent = self.resources[parent].parent
        return out

    def direct_waits(self, urn: str) -> dict[str, set[str]]:
        """What the engine must finish before it creates `urn`, by dependency URN, with
        why: data (per property), `depends_on`, its provider, or a resource passed by
        reference to a remote component (`cluster=`, `node_role=`: the SDK leaves those
        out of the recorded dependencies, yet nothing can be created from them before
        they exist)."""
        r = self.resources[urn]
        out: dict[str, set[str]] = defaultdict(set)
        for prop, urns in r.property_dependencies.items():
            for u in urns:
                out[u].add(f"data: {prop}")
        for u in r.explicit_dependencies:
            out[u].add("depends_on")
        for u in r.dependencies:
            out.setdefault(u, set())
        if r.provider:
            provider_urn = r.provider.rsplit("::", 1)[0]
            if provider_urn in self.resources:
                out[provider_urn].add("provider")
        if not r.synthetic:
            for key, value in r.inputs.items():
                for u in _refs(value):
                    out[u].add(f"reference: {key}")
        for kinds in out.values():
            if not kinds:
                kinds.add("data")
        return dict(out)

    def effective_dependencies(self, urn: str) -> set[str]:
        """What must exist before `urn` is created: its own direct waits and its
        ancestors' (a child waits for everything its parent component was told to wait
        for), with component dependencies expanded to the component's descendants."""
        deps: set[str] = set()
        for r in [self.resources[urn], *self.ancestors(urn)]:
            for d in self.direct_waits(r.urn):
                deps.add(d)
                if d in self.resources and not self.resources[d].custom:
                    deps.update(x.urn for x in self.descendants(d))
        return deps

    def waits_for(self, urn: str, other: str) -> bool:
        """True when `urn` cannot be created before `other` (transitively)."""
        seen: set[str] = set()
        todo = [urn]
        while todo:
            cur = todo.pop()
            if cur in seen or cur not in self.resources:
                continue
            seen.add(cur)
            deps = self.effective_dependencies(cur)
            if other in deps:
                return True
            todo += list(deps)
        return False


def _refs(value: Any) -> Iterator[str]:
    """URNs of the resources passed by reference anywhere in an input value."""
    if isinstance(value, ResourceRef):
        yield value.urn
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _refs(v)


# --------------------------------------------------------------------------------------
# Wire format <-> Python, without touching an event loop
# --------------------------------------------------------------------------------------


def _decode(value: Any, keep_secrets: bool) -> Any:
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            inner = _decode(value.get("value"), keep_secrets)
            return Secret(inner) if keep_secrets else inner
        if sig == _RESOURCE_SIG:
            rid = value.get("id")
            return ResourceRef(str(value["urn"]), None if rid in (None, "") else str(rid))
        if sig == _OUTPUT_SIG:
            if "value" not in value:
                return UNKNOWN
            inner = _decode(value["value"], keep_secrets)
            return Secret(inner) if keep_secrets and value.get("secret") else inner
        return {k: _decode(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, keep_secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN:
        return UNKNOWN
    return value


def decode_struct(struct: Any, keep_secrets: bool = False) -> dict[str, Any]:
    from google.protobuf import json_format

    return _decode(json_format.MessageToDict(struct), keep_secrets)


def _encode(value: Any) -> Any:
    if isinstance(value, ResourceRef):
        out = {_SIG: _RESOURCE_SIG, "urn": value.urn, "packageVersion": ""}
        if value.id is not None:
            out["id"] = value.id
        return out
    if isinstance(value, Secret):
        return {_SIG: _SECRET_SIG, "value": _encode(value.value)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def encode_struct(value: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(_encode(value))
    return s


def unwrap(value: Any) -> Any:
    """Strip Secret markers (for assertions on the plain value)."""
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Realistic provider behaviour
# --------------------------------------------------------------------------------------


def _hex(seed: str, n: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/route:Route": "r-rtb-",
}


class EngineMocks:
    """Outputs shaped like the real providers' for the types this program declares."""

    def __init__(self, region: str, project: str, stack: str) -> None:
        self.region = region
        self.project = project
        self.stack = stack
        self.monitor: RecordingMonitor | None = None
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    # -- resources ---------------------------------------------------------------------

    def new_resource(self, typ: str, name: str, inputs: dict[str, Any], urn: str,
                     custom: bool) -> tuple[str | None, dict[str, Any]]:
        handler: Callable[..., tuple[str | None, dict[str, Any]]] | None = {
            "eks:index:Cluster": self._eks_cluster,
            "eks:index:ManagedNodeGroup": self._managed_node_group,
            "kubernetes:helm.sh/v3:Release": self._helm_release,
            "aws:iam/role:Role": self._iam_role,
            "aws:iam/policy:Policy": self._iam_policy,
            "aws:kms/key:Key": self._kms_key,
            "aws:ec2/subnet:Subnet": self._subnet,
        }.get(typ)
        if handler is not None:
            return handler(name, inputs, urn)
        if not custom:
            return None, {}
        state = dict(inputs)
        rid = _ID_PREFIX.get(typ, "") + _hex(urn) if typ in _ID_PREFIX else f"{name}-{_hex(urn, 7)}"
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{typ.split(':')[-1].lower()}/{rid}")
            state.setdefault("tagsAll", inputs.get("tags", {}))
            if typ == "aws:ec2/vpc:Vpc":
                state.setdefault("defaultSecurityGroupId", "sg-" + _hex(urn + "sg"))
            if typ == "aws:ec2/eip:Eip":
                state.setdefault("publicIp", "198.51.100." + str(int(_hex(urn, 2), 16) % 250 + 1))
        if typ.startswith("kubernetes:") and "Patch" not in typ:
            md = dict(state.get("metadata") or {})
            md.setdefault("name", name)
            state["metadata"] = md
        return rid, state

    def _subnet(self, name: str, inputs: dict[str, Any], urn: str):
        rid = "subnet-" + _hex(urn)
        return rid, {**inputs, "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:subnet/{rid}",
                     "availabilityZone": inputs.get("availabilityZone", f"{self.region}a"),
                     "tagsAll": inputs.get("tags", {})}

    def _iam_role(self, name: str, inputs: dict[str, Any], urn: str):
        role_name = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{_hex(urn, 7)}"
        return role_name, {**inputs, "name": role_name,
                           "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}",
                           "uniqueId": "AROA" + _hex(urn, 17).upper()}

    def _iam_policy(self, name: str, inputs: dict[str, Any], urn: str):
        pname = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{_hex(urn, 7)}"
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{pname}"
        return arn, {**inputs, "name": pname, "arn": arn, "policyId": "ANPA" + _hex(urn).upper()}

    def _kms_key(self, name: str, inputs: dict[str, Any], urn: str):
        key_id = "-".join(_hex(urn + str(i), n) for i, n in enumerate((8, 4, 4, 4, 12)))
        return key_id, {**inputs, "keyId": key_id, "arn": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{key_id}"}

    def _helm_release(self, name: str, inputs: dict[str, Any], urn: str):
        rel = inputs.get("name") or name
        ns = inputs.get("namespace") or "default"
        status = {"name": rel, "namespace": ns, "chart": inputs.get("chart"), "version": inputs.get("version"),
                  "status": "deployed", "revision": 1, "appVersion": inputs.get("version")}
        return f"{ns}/{rel}", {**inputs, "name": rel, "status": status}

    def _child(self, parent_urn: str, typ: str, name: str, state: dict[str, Any],
               rid: str | None = None) -> ResourceRef:
        assert self.monitor is not None
        return self.monitor.register_synthetic(parent_urn, typ, name, state, rid)

    def _eks_cluster(self, name: str, inputs: dict[str, Any], urn: str):
        """What pulumi-eks 4.x's Cluster component returns and creates."""
        cluster_name = inputs.get("name") or f"{name}-eksCluster-{_hex(urn, 7)}"
        hexid = _hex(urn, 32).upper()
        endpoint = f"https://{hexid}.gr7.{self.region}.eks.amazonaws.com"
        issuer = f"oidc.eks.{self.region}.amazonaws.com/id/{hexid}"
        oidc_arn = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}"
        ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
        kubeconfig = {
            "apiVersion": "v1",
            "clusters": [{"cluster": {"server": endpoint, "certificate-authority-data": ca}, "name": "kubernetes"}],
            "contexts": [{"context": {"cluster": "kubernetes", "user": "aws"}, "name": "aws"}],
            "current-context": "aws",
            "kind": "Config",
            "users": [{"name": "aws", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                "env": [{"name": "KUBERNETES_EXEC_INFO",
                         "value": '{"apiVersion": "client.authentication.k8s.io/v1beta1"}'}]}}}],
        }
        priv = list(inputs.get("privateSubnetIds") or [])
        pub = list(inputs.get("publicSubnetIds") or [])
        vpc_config = {
            "subnetIds": priv + pub,
            "endpointPrivateAccess": bool(inputs.get("endpointPrivateAccess", False)),
            "endpointPublicAccess": bool(inputs.get("endpointPublicAccess", True)),
            "publicAccessCidrs": list(inputs.get("publicAccessCidrs") or ["0.0.0.0/0"]),
            "clusterSecurityGroupId": "sg-" + _hex(urn + "csg"),
            "vpcId": inputs.get("vpcId"),
        }
        role = self._child(urn, "aws:iam/role:Role", f"{name}-eksRole", {
            "name": f"{name}-eksRole-{_hex(urn, 7)}", "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-eksRole",
            "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})})
        csg = self._child(urn, "aws:ec2/securityGroup:SecurityGroup", f"{name}-eksClusterSecurityGroup",
                          {"vpcId": inputs.get("vpcId"), "description": "Managed by Pulumi"},
                          vpc_config["clusterSecurityGroupId"])
        nsg = self._child(urn, "aws:ec2/securityGroup:SecurityGroup", f"{name}-nodeSecurityGroup",
                          {"vpcId": inputs.get("vpcId"), "description": "Managed by Pulumi",
                           "tags": {f"kubernetes.io/cluster/{cluster_name}": "owned"}}, "sg-" + _hex(urn + "nsg"))
        encryption = None
        if inputs.get("encryptionConfigKeyArn"):
            encryption = {"provider": {"keyArn": inputs["encryptionConfigKeyArn"]}, "resources": ["secrets"]}
        eks_cluster = self._child(urn, "aws:eks/cluster:Cluster", f"{name}-eksCluster", {
            "name": cluster_name, "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{cluster_name}",
            "endpoint": endpoint, "version": inputs.get("version") or "1.34", "status": "ACTIVE",
            "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-eksRole",
            "certificateAuthority": {"data": ca}, "vpcConfig": vpc_config,
            "identities": [{"oidcs": [{"issuer": "https://" + issuer}]}],
            "enabledClusterLogTypes": list(inputs.get("enabledClusterLogTypes") or []),
            "encryptionConfig": encryption,
            "accessConfig": {"authenticationMode": inputs.get("authenticationMode") or "CONFIG_MAP",
                             "bootstrapClusterCreatorAdminPermissions": True},
            "bootstrapSelfManagedAddons": inputs.get("bootstrapSelfManagedAddons", True),
            "tags": inputs.get("tags") or {},
        }, cluster_name)
        oidc = None
        if inputs.get("createOidcProvider"):
            oidc = self._child(urn, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", f"{name}-oidcProvider", {
                "url": "https://" + issuer, "arn": oidc_arn, "clientIdLists": ["sts.amazonaws.com"]}, oidc_arn)
        provider = self._child(urn, "pulumi:providers:kubernetes", f"{name}-provider",
                               {"kubeconfig": json.dumps(kubeconfig)}, _hex(urn + "prov", 36))
        # Add-ons pulumi-eks 4 manages itself, by its documented defaults.
        if inputs.get("useDefaultVpcCni") is False:
            self._child(urn, "eks:index:VpcCniAddon", f"{name}-vpc-cni", {"clusterName": cluster_name})
        kp = inputs.get("kubeProxyAddonOptions") or {}
        if kp.get("enabled", True):
            self._child(urn, "aws:eks/addon:Addon", f"{name}-kube-proxy",
                        {"addonName": "kube-proxy", "clusterName": cluster_name})
        cd = inputs.get("corednsAddonOptions") or {}
        if cd.get("enabled", True) and (not inputs.get("skipDefaultNodeGroup") or inputs.get("fargate")):
            self._child(urn, "aws:eks/addon:Addon", f"{name}-coredns",
                        {"addonName": "coredns", "clusterName": cluster_name})
        if not inputs.get("skipDefaultNodeGroup"):
            self._child(urn, "eks:index:NodeGroupV2", f"{name}", {"clusterName": cluster_name})
        if inputs.get("fargate"):
            self._child(urn, "aws:eks/fargateProfile:FargateProfile", f"{name}-fargateProfile",
                        {"clusterName": cluster_name})
        core = {
            "cluster": eks_cluster, "clusterIamRole": role, "endpoint": endpoint, "provider": provider,
            "vpcId": inputs.get("vpcId"), "subnetIds": priv + pub, "privateSubnetIds": priv, "publicSubnetIds": pub,
            "instanceRoles": [], "nodeGroupOptions": {}, "clusterSecurityGroup": csg,
            "oidcProvider": oidc, "kubeconfig": kubeconfig, "tags": inputs.get("tags") or {},
            "encryptionConfig": encryption,
        }
        outputs = {
            "eksCluster": eks_cluster, "core": core, "kubeconfig": kubeconfig,
            "kubeconfigJson": json.dumps(kubeconfig), "clusterSecurityGroup": csg,
            "clusterSecurityGroupId": vpc_config["clusterSecurityGroupId"], "nodeSecurityGroup": nsg,
            "nodeSecurityGroupId": "sg-" + _hex(urn + "nsg"), "eksClusterIngressRule": None,
            "clusterIngressRuleId": "sgrule-" + _hex(urn + "rule"),
            "oidcProviderArn": oidc_arn if oidc else "", "oidcProviderUrl": ("https://" + issuer) if oidc else "",
            "oidcIssuer": issuer if oidc else "", "defaultNodeGroup": None, "defaultNodeGroupAsgName": "",
            "fargateProfileId": "", "fargateProfileStatus": "", "instanceRoles": [], "autoModeNodeRoleName": "",
        }
        return None, outputs

    def _managed_node_group(self, name: str, inputs: dict[str, Any], urn: str):
        cluster = inputs.get("cluster")
        cluster_name = inputs.get("clusterName")
        if cluster_name is None and isinstance(cluster, ResourceRef) and self.monitor is not None:
            parent = self.monitor.recorded.get(cluster.urn)
            if parent is not None:
                cluster_name = parent.outputs.get("eksCluster") and self.monitor.recorded[
                    parent.outputs["eksCluster"].urn].outputs.get("name")
        ng_name = inputs.get("nodeGroupName") or f"{inputs.get('nodeGroupNamePrefix', name + '-')}{_hex(urn, 8)}"
        ng = self._child(urn, "aws:eks/nodeGroup:NodeGroup", f"{name}-managedNodeGroup", {
            "clusterName": cluster_name, "nodeGroupName": ng_name,
            "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:nodegroup/{cluster_name}/{ng_name}/{_hex(urn, 8)}",
            "nodeRoleArn": inputs.get("nodeRoleArn"), "subnetIds": inputs.get("subnetIds"),
            "scalingConfig": inputs.get("scalingConfig"), "taints": inputs.get("taints"),
            "labels": inputs.get("labels"), "instanceTypes": inputs.get("instanceTypes"),
            "capacityType": inputs.get("capacityType"), "amiType": "AL2023_x86_64_STANDARD", "status": "ACTIVE",
        }, f"{cluster_name}:{ng_name}")
        return None, {"nodeGroup": ng, "placementGroupName": ""}

    # -- invokes -----------------------------------------------------------------------

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        self.invokes.append((token, args))
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {"names": [f"{self.region}{c}" for c in letters],
                    "zoneIds": [f"{self.region[:3]}{self.region[-1]}-az{i + 1}" for i in range(6)],
                    "id": self.region, "groupNames": [self.region] * 6}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                    "userId": "AIDA" + _hex("u").upper(), "id": ACCOUNT_ID}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
                    "reverseDnsPrefix": "com.amazonaws"}
        if token in ("aws:index/getRegion:getRegion",):
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com"}
        raise NotImplementedError(f"the mock engine has no answer for invoke {token}; add a realistic one")


# --------------------------------------------------------------------------------------
# The monitor
# --------------------------------------------------------------------------------------


def _monitor_base() -> type:
    from pulumi.runtime.mocks import MockMonitor

    return MockMonitor


class RecordingMonitor(_monitor_base()):  # base class resolved at import
    """A MockMonitor that records the whole graph and speaks resource references."""

    def __init__(self, mocks: EngineMocks) -> None:
        super().__init__(mocks)
        self.engine_mocks = mocks
        mocks.monitor = self
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_urn = ""
        self.stack_outputs: dict[str, Any] = {}

    # Resources --------------------------------------------------------------------------

    def register_synthetic(self, parent_urn: str, typ: str, name: str, state: dict[str, Any],
                           rid: str | None) -> ResourceRef:
        from pulumi.runtime.mocks import MockMonitor

        urn = self.make_urn(parent_urn, typ, name)
        rid = rid or f"{name}-{_hex(urn, 7)}"
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, rid, state)
        self.recorded[urn] = RecordedResource(
            urn=urn, type=typ, name=name, custom=not typ.startswith("eks:"), remote=False, parent=parent_urn,
            provider=None, inputs=state, dependencies=(), property_dependencies={}, outputs=state, id=rid,
            synthetic=True)
        return ResourceRef(urn, rid)

    def RegisterResource(self, request: Any) -> Any:
        from pulumi.runtime.mocks import MockMonitor
        from pulumi.runtime.proto import resource_pb2

        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)

        inputs = decode_struct(request.object)
        id_, state = self.engine_mocks.new_resource(request.type, request.name, inputs, urn, request.custom)
        if request.custom and id_ is None:
            id_ = f"{request.name}-{_hex(urn, 7)}"
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", state)
        self.recorded[urn] = RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            remote=request.remote,
            parent=request.parent or None,
            provider=request.provider or None,
            inputs=inputs,
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            outputs=state,
            id=id_,
            options={
                "protect": request.protect,
                "retain_on_delete": request.retainOnDelete,
                "delete_before_replace": request.deleteBeforeReplace,
                "ignore_changes": tuple(request.ignoreChanges),
                "replace_on_changes": tuple(request.replaceOnChanges),
                "additional_secret_outputs": tuple(request.additionalSecretOutputs),
                "providers": dict(request.providers),
                "custom_timeouts": {"create": request.customTimeouts.create,
                                    "update": request.customTimeouts.update,
                                    "delete": request.customTimeouts.delete},
            },
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=encode_struct(state))

    def RegisterResourceOutputs(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        outputs = decode_struct(request.outputs, keep_secrets=True)
        if request.urn == self.stack_urn or request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            self.stack_outputs.update(outputs)
        elif request.urn in self.recorded:
            self.recorded[request.urn].registered_outputs = outputs
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        args = decode_struct(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            reg = self.resources.get(args["urn"])
            if reg is None:
                raise Exception(f"unknown resource {args['urn']}")
            ret = {"urn": reg.urn, "id": reg.id, "state": reg.state}
        else:
            ret = self.engine_mocks.call(request.tok, args)
        return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": encode_struct(ret)})


# --------------------------------------------------------------------------------------
# Running the real program
# --------------------------------------------------------------------------------------


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def stack_files(project_dir: Path = PROJECT_DIR) -> dict[str, Path]:
    """Every committed stack file, by stack name."""
    return {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted(project_dir.glob("Pulumi.*.yaml"))}


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_files(project_dir)) or "none"
        raise FileNotFoundError(f"no stack file Pulumi.{stack}.yaml (stacks: {known})")
    return dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})


def _as_config_string(value: Any) -> str:
    """What the Pulumi CLI hands a program: strings as-is, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "<secret>"
    return json.dumps(value)


def run_program(stack: str, *, config: Mapping[str, Any] | None = None,
                project_dir: Path = PROJECT_DIR, overrides: Mapping[str, Any] | None = None,
                on_monitor: Callable[[RecordingMonitor], None] | None = None) -> Graph:
    """Evaluate the project's real ``__main__.py`` for a stack under the mock engine.

    ``config`` replaces the stack file's config; ``overrides`` is merged on top (keys
    without a namespace get the project's). Raises whatever the program raises (a
    ``ConfigError`` for bad config). ``on_monitor`` receives the recording monitor before
    the program runs, so a caller can inspect what was declared even when it fails.
    """
    import pulumi
    from pulumi.runtime import settings as rt_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    project = project_name(project_dir)
    raw = dict(stack_config(stack, project_dir) if config is None else config)
    for k, v in (overrides or {}).items():
        raw[k if ":" in k else f"{project}:{k}"] = v
    region = str(raw.get("aws:region", "us-east-1"))
    mocks = EngineMocks(region, project, stack)
    monitor = RecordingMonitor(mocks)
    if on_monitor is not None:
        on_monitor(monitor)

    # EngineMocks has the methods of pulumi's Mocks (new_resource, call) without subclassing it.
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)  # pyright: ignore[reportArgumentType]
    set_all_config({k: _as_config_string(v) for k, v in raw.items()},
                   [k for k, v in raw.items() if isinstance(v, dict) and set(v) == {"secure"}])
    # set_mocks registers a bare root stack; run the program in a fresh one, as the
    # language host does, so `pulumi.export` reaches the monitor.
    rt_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]  # None resets it; the SDK's hint omits it

    main = project_dir / "__main__.py"
    sys_path_added = str(project_dir) not in sys.path
    if sys_path_added:
        sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    try:
        _sync_await(run_in_stack(program))
    finally:
        os.chdir(cwd)
        if sys_path_added:
            sys.path.remove(str(project_dir))
        rt_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]  # None resets it (see above)

    return Graph(project=project, stack=stack, resources=dict(monitor.recorded),
                 outputs=dict(monitor.stack_outputs), stack_urn=monitor.stack_urn)


def group_by_parent(resources: Iterable[RecordedResource]) -> dict[str | None, list[RecordedResource]]:
    out: dict[str | None, list[RecordedResource]] = defaultdict(list)
    for r in resources:
        out[r.parent].append(r)
    return out
