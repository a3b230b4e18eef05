"""Fake providers: outputs shaped like the real AWS, EKS and Helm providers' for the types
this program declares, and the children a real pulumi-eks provider would create inside its
remote components (recorded as "synthetic")."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .wire import ResourceRef

if TYPE_CHECKING:
    from .monitor import RecordingMonitor

ACCOUNT_ID = "123456789012"

#: Any of these makes pulumi-eks build its own launch template for a managed node group
#: (``customLaunchTemplateArgs`` and ``customUserDataArgs``, pulumi-eks v4.3.0 nodegroup.ts L2128, userdata.ts L135).
_CUSTOM_LAUNCH_TEMPLATE_ARGS = ("bootstrapExtraArgs", "kubeletExtraArgs", "bottlerocketSettings", "nodeadmExtraOptions",
                                "enableIMDSv2", "userData", "amiId", "enableEfaSupport")


def hex_id(seed: str, n: int = 17) -> str:
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
        #: The zones the region offers this account, by letter (six, as us-east-1 has). A test plays a
        #: smaller region by setting fewer (us-west-1 shows new accounts two: "bc").
        self.zone_letters = "abcdef"
        #: Where adopted subnets are, by id; an id not listed is placed by its last hex digit
        #: (``subnet-...1`` in zone b, ``...2`` in zone c, ...), so distinct ids spread as real ones do.
        self.subnet_zones: dict[str, str] = {}

    def zone_names(self) -> list[str]:
        return [f"{self.region}{c}" for c in self.zone_letters]

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
            "aws:sqs/queue:Queue": self._sqs_queue,
            "random:index/randomPassword:RandomPassword": self._random_password,
            "aws:amp/workspace:Workspace": self._amp_workspace,
        }.get(typ)
        if handler is not None:
            return handler(name, inputs, urn)
        if not custom:
            return None, {}
        state = dict(inputs)
        rid = _ID_PREFIX.get(typ, "") + hex_id(urn) if typ in _ID_PREFIX else f"{name}-{hex_id(urn, 7)}"
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{typ.split(':')[-1].lower()}/{rid}")
            state.setdefault("tagsAll", inputs.get("tags", {}))
            if typ == "aws:ec2/vpc:Vpc":
                state.setdefault("defaultSecurityGroupId", "sg-" + hex_id(urn + "sg"))
            if typ == "aws:ec2/eip:Eip":
                state.setdefault("publicIp", "198.51.100." + str(int(hex_id(urn, 2), 16) % 250 + 1))
        if typ.startswith("kubernetes:") and "Patch" not in typ:
            md = dict(state.get("metadata") or {})
            md.setdefault("name", name)
            state["metadata"] = md
        return rid, state

    def _sqs_queue(self, name: str, inputs: dict[str, Any], urn: str):
        """An SQS queue: its id is its URL, its ARN ``arn:aws:sqs:<region>:<account>:<name>`` (no ``queue/``)."""
        qname = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{hex_id(urn, 7)}"
        url = f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{qname}"
        return url, {**inputs, "name": qname, "url": url, "arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{qname}",
                     "tagsAll": inputs.get("tags", {})}

    def _subnet(self, name: str, inputs: dict[str, Any], urn: str):
        rid = "subnet-" + hex_id(urn)
        return rid, {**inputs, "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:subnet/{rid}",
                     "availabilityZone": inputs.get("availabilityZone", f"{self.region}a"),
                     "tagsAll": inputs.get("tags", {})}

    def _iam_role(self, name: str, inputs: dict[str, Any], urn: str):
        role_name = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{hex_id(urn, 7)}"
        return role_name, {**inputs, "name": role_name,
                           "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}",
                           "uniqueId": "AROA" + hex_id(urn, 17).upper()}

    def _iam_policy(self, name: str, inputs: dict[str, Any], urn: str):
        pname = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{hex_id(urn, 7)}"
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{pname}"
        return arn, {**inputs, "name": pname, "arn": arn, "policyId": "ANPA" + hex_id(urn).upper()}

    def _kms_key(self, name: str, inputs: dict[str, Any], urn: str):
        key_id = "-".join(hex_id(urn + str(i), n) for i, n in enumerate((8, 4, 4, 4, 12)))
        return key_id, {**inputs, "keyId": key_id, "arn": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{key_id}"}

    def _random_password(self, name: str, inputs: dict[str, Any], urn: str):
        """pulumi-random: ``result`` of ``length`` characters (letters and digits without ``special``),
        and its bcrypt hash; the real provider marks both secret."""
        length = int(inputs.get("length") or 16)
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        digest = hashlib.sha256(("password" + urn).encode()).digest() * (length // 32 + 1)
        result = "".join(alphabet[b % len(alphabet)] for b in digest[:length])
        bcrypt = "$2a$10$" + base64.b64encode(hashlib.sha256(result.encode()).digest()).decode()[:53]
        return "none", {**inputs, "result": result, "bcryptHash": bcrypt}

    def _amp_workspace(self, name: str, inputs: dict[str, Any], urn: str):
        """An Amazon Managed Prometheus workspace: id ``ws-<uuid>``, its ARN and query endpoint."""
        h = hex_id(urn, 32)
        ws = f"ws-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        return ws, {**inputs, "arn": f"arn:aws:aps:{self.region}:{ACCOUNT_ID}:workspace/{ws}",
                    "prometheusEndpoint": f"https://aps-workspaces.{self.region}.amazonaws.com/workspaces/{ws}/",
                    "tagsAll": inputs.get("tags", {})}

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
        cluster_name = inputs.get("name") or f"{name}-eksCluster-{hex_id(urn, 7)}"
        hexid = hex_id(urn, 32).upper()
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
            "clusterSecurityGroupId": "sg-" + hex_id(urn + "csg"),
            "vpcId": inputs.get("vpcId"),
        }
        role = self._child(urn, "aws:iam/role:Role", f"{name}-eksRole", {
            "name": f"{name}-eksRole-{hex_id(urn, 7)}", "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-eksRole",
            "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})})
        csg = self._child(urn, "aws:ec2/securityGroup:SecurityGroup", f"{name}-eksClusterSecurityGroup",
                          {"vpcId": inputs.get("vpcId"), "description": "Managed by Pulumi"},
                          vpc_config["clusterSecurityGroupId"])
        nsg = self._child(urn, "aws:ec2/securityGroup:SecurityGroup", f"{name}-nodeSecurityGroup",
                          {"vpcId": inputs.get("vpcId"), "description": "Managed by Pulumi",
                           "tags": {f"kubernetes.io/cluster/{cluster_name}": "owned"}}, "sg-" + hex_id(urn + "nsg"))
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
                               {"kubeconfig": json.dumps(kubeconfig)}, hex_id(urn + "prov", 36))
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
            "nodeSecurityGroupId": "sg-" + hex_id(urn + "nsg"), "eksClusterIngressRule": None,
            "clusterIngressRuleId": "sgrule-" + hex_id(urn + "rule"),
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
        ng_name = inputs.get("nodeGroupName") or f"{inputs.get('nodeGroupNamePrefix', name + '-')}{hex_id(urn, 8)}"
        state: dict[str, Any] = {
            "clusterName": cluster_name, "nodeGroupName": ng_name,
            "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:nodegroup/{cluster_name}/{ng_name}/{hex_id(urn, 8)}",
            "nodeRoleArn": inputs.get("nodeRoleArn"), "subnetIds": inputs.get("subnetIds"),
            "scalingConfig": inputs.get("scalingConfig"), "taints": inputs.get("taints"),
            "labels": inputs.get("labels"), "instanceTypes": inputs.get("instanceTypes"),
            "capacityType": inputs.get("capacityType"), "amiType": "AL2023_x86_64_STANDARD", "status": "ACTIVE",
            "diskSize": inputs.get("diskSize"),
        }
        if any(inputs.get(k) is not None for k in _CUSTOM_LAUNCH_TEMPLATE_ARGS):
            lt = self._launch_template(name, inputs, urn, cluster)
            # pulumi-eks moves the disk into the template and drops what an AMI id in it excludes.
            for dropped in ("diskSize", "amiType", "releaseVersion", "version"):
                state.pop(dropped, None)
            state["launchTemplate"] = {"id": lt.id, "version": "1"}
        ng = self._child(urn, "aws:eks/nodeGroup:NodeGroup", f"{name}-managedNodeGroup", state,
                         f"{cluster_name}:{ng_name}")
        return None, {"nodeGroup": ng, "placementGroupName": ""}

    def _launch_template(self, name: str, inputs: dict[str, Any], urn: str, cluster: Any) -> ResourceRef:
        """The launch template pulumi-eks builds for a managed node group that needs one
        (``createMNGCustomLaunchTemplate`` and ``createUserData`` for AL2023, pulumi-eks v4.3.0
        ``nodejs/eks/nodes/nodegroup.ts`` L2048-2300, ``nodes/userdata.ts`` L253-404)."""
        endpoint, ca = "https://unknown", ""
        if isinstance(cluster, ResourceRef) and self.monitor is not None and cluster.urn in self.monitor.recorded:
            eks_ref = self.monitor.recorded[cluster.urn].outputs.get("eksCluster")
            if isinstance(eks_ref, ResourceRef) and eks_ref.urn in self.monitor.recorded:
                eks_state = self.monitor.recorded[eks_ref.urn].outputs
                endpoint = eks_state.get("endpoint", endpoint)
                ca = (eks_state.get("certificateAuthority") or {}).get("data", ca)
                cluster_name = eks_state.get("name")
            else:
                cluster_name = None
        else:
            cluster_name = inputs.get("clusterName")
        parts = [("application/node.eks.aws", "---\n" + json.dumps({
            "apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
            "spec": {"cluster": {"name": cluster_name, "apiServerEndpoint": endpoint, "certificateAuthority": ca,
                                 "cidr": "10.100.0.0/16"}}}))]
        flags = str(inputs.get("kubeletExtraArgs") or "").split()
        labels = inputs.get("labels") or {}
        if labels:
            flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()))
        effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
        taints = inputs.get("taints") or []
        if taints:
            flags.append("--register-with-taints=" + ",".join(
                f"{t['key']}={t['value']}:{effects[t['effect']]}" if t.get("value") else
                f"{t['key']}:{effects[t['effect']]}" for t in taints))
        if flags:
            parts.append(("application/node.eks.aws", "---\n" + json.dumps({
                "apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig", "spec": {"kubelet": {"flags": flags}}})))
        parts += [(o["contentType"], o["content"]) for o in inputs.get("nodeadmExtraOptions") or []]
        mime = 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="BOUNDARY"\n\n'
        mime += "".join(f"--BOUNDARY\nContent-Type: {ct}\n\n{content}\n" for ct, content in parts) + "--BOUNDARY--\n"
        state: dict[str, Any] = {
            "imageId": inputs.get("amiId"),
            "userData": base64.b64encode(mime.encode()).decode(),
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": inputs.get("diskSize")}}],
        }
        if inputs.get("enableIMDSv2") is not None:
            state["metadataOptions"] = {"httpTokens": "required" if inputs["enableIMDSv2"] else "optional",
                                        "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"}
        return self._child(urn, "aws:ec2/launchTemplate:LaunchTemplate", f"{name}-launchTemplate", state,
                           "lt-" + hex_id(urn))

    # -- invokes -----------------------------------------------------------------------

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        self.invokes.append((token, args))
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = self.zone_names()
            zone_ids = [f"{self.region[:3]}{self.region[-1]}-az{'abcdef'.index(c) + 1}" for c in self.zone_letters]
            return {"names": names, "zoneIds": zone_ids, "id": self.region, "groupNames": [self.region] * len(names)}
        if token == "aws:ec2/getSubnet:getSubnet":
            # What EC2 describes for an adopted subnet (pulumi_aws 7.51.1 ec2/get_subnet.py: availability_zone,
            # availability_zone_id, cidr_block, vpc_id, ...): a /20 of the mocked VPC (getVpc: 10.99.0.0/16).
            sid = str(args.get("id", ""))
            names = self.zone_names()
            digit = int(sid[-1], 16) if sid[-1:] in "0123456789abcdef" and sid else 0
            zone = self.subnet_zones.get(sid) or names[digit % len(names)]
            return {"id": sid, "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:subnet/{sid}",
                    "availabilityZone": zone,
                    "availabilityZoneId": f"{self.region[:3]}{self.region[-1]}-az{'abcdef'.index(zone[-1]) + 1}"
                    if zone[-1] in "abcdef" else zone,
                    "cidrBlock": f"10.99.{digit * 16}.0/20", "vpcId": "vpc-" + hex_id("adopted-vpc"),
                    "state": "available", "mapPublicIpOnLaunch": False, "defaultForAz": False,
                    "availableIpAddressCount": 4091, "ownerId": ACCOUNT_ID, "tags": {}}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                    "userId": "AIDA" + hex_id("u").upper(), "id": ACCOUNT_ID}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
                    "reverseDnsPrefix": "com.amazonaws"}
        if token == "aws:ssm/getParameter:getParameter":
            # EKS AMI ids are public parameters; any other name is a mistake a real run would hit too.
            name = str(args.get("name", ""))
            if not name.startswith("/aws/service/eks/optimized-ami/") or not name.endswith("/image_id"):
                raise NotImplementedError(f"the mock engine only knows EKS AMI parameters, not {name!r}")
            return {"name": name, "value": "ami-" + hex_id(name), "type": "String", "id": name, "arn":
                    f"arn:aws:ssm:{self.region}::parameter{name}", "version": 1, "insecureValue": "ami-" + hex_id(name)}
        if token == "aws:ec2/getVpc:getVpc":
            vpc_id = str(args.get("id", ""))
            cidr = "10.99.0.0/16"
            return {"id": vpc_id, "cidrBlock": cidr, "arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:vpc/{vpc_id}",
                    "cidrBlockAssociations": [{"associationId": "vpc-cidr-assoc-" + hex_id(vpc_id), "cidrBlock": cidr,
                                               "state": "associated"},
                                              {"associationId": "vpc-cidr-assoc-2" + hex_id(vpc_id, 9),
                                               "cidrBlock": "100.64.0.0/16", "state": "associated"}],
                    "enableDnsHostnames": True, "enableDnsSupport": True, "state": "available"}
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            k8s_version = str(args.get("kubernetesVersion"))
            return {"addonName": args.get("addonName"), "kubernetesVersion": k8s_version,
                    "version": f"v1.12.4-eksbuild.{k8s_version.split('.')[-1]}", "id": str(args.get("addonName"))}
        if token == "aws:ec2/getInstanceType:getInstanceType":
            name = str(args.get("instanceType"))
            arm = name.split(".")[0].rstrip("dn").endswith("g")
            return {"instanceType": name, "id": name, "defaultVcpus": 4,
                    "supportedArchitectures": ["arm64"] if arm else ["x86_64"],
                    "maximumNetworkInterfaces": 4, "maximumIpv4AddressesPerInterface": 15}
        if token in ("aws:index/getRegion:getRegion",):
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com"}
        raise NotImplementedError(f"the mock engine has no answer for invoke {token}; add a realistic one")


