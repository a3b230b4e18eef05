"""The resource graph of the real program, for every committed stack, under the mock engine."""

from __future__ import annotations

import base64
import copy
import email
import json
from collections.abc import Callable
from typing import Any

import pytest

from cilium_eks import instance_types
from cilium_eks.aws_node import DISABLE_SELECTOR as AWS_NODE_DISABLE_SELECTOR
from cilium_eks.capacity import group_cap
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.config import ConfigError, StackConfig, parse_config
from cilium_eks.eks import DEFAULT_AMI_RELEASE, ami_parameter
from cilium_eks.network import POD_SUBNET_TAG
from cilium_eks.ordering import RULES_BY_NAME, check_ordering
from tests.conftest import committed_graph, graph_with
from tooling.mockengine import Graph, RecordedResource, ResourceRef, Secret, run_program
from tooling.mockengine.monitor import RecordingMonitor
from tooling.mockengine.providers import EngineMocks, hex_id
from tooling.stackfiles import stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
MNG = "eks:index:ManagedNodeGroup"
EKS = "eks:index:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
COMMAND = "command:local:Command"
SERVICE = "kubernetes:core/v1:Service"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
EXISTING_VPC = {"existingVpcId": "vpc-0123456789abcdef0",
                "existingPrivateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}


def release(graph: Graph) -> RecordedResource:
    found = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == "cilium"]
    assert len(found) == 1, "exactly one Cilium release"
    return found[0]


def values(graph: Graph) -> dict[str, Any]:
    return release(graph).inputs["values"]


def subnets(graph: Graph, kind: str) -> list[RecordedResource]:
    return [r for r in graph.of_type("aws:ec2/subnet:Subnet") if f"-{kind}-" in r.name]


def config(stack: str, **overrides: Any) -> StackConfig:
    raw = {**stack_config(stack), **{f"cilium-eks:{k}": v for k, v in overrides.items()}}
    return parse_config(raw, project="cilium-eks", stack=stack, region=raw.get("aws:region"))


def with_invokes(stack: str, **overrides: Any) -> tuple[Graph, list[tuple[str, dict[str, Any]]]]:
    """The graph and the invokes (data-source reads) the program made."""
    monitors: list[RecordingMonitor] = []
    graph = run_program(stack, overrides=overrides, on_monitor=monitors.append)
    return graph, monitors[0].engine_mocks.invokes


def launch_template(graph: Graph, ng: RecordedResource) -> RecordedResource:
    """The launch template pulumi-eks builds for a managed node group (the mock records it under the group)."""
    [lt] = [r for r in graph.descendants(ng.urn) if r.type == LAUNCH_TEMPLATE]
    return lt


def node_configs(graph: Graph, ng: RecordedResource) -> list[dict[str, Any]]:
    """The nodeadm NodeConfig documents of a node group's user data (base64 MIME multipart), in order."""
    mime = email.message_from_bytes(base64.b64decode(launch_template(graph, ng).inputs["userData"]))
    parts = [p for p in mime.walk() if not p.is_multipart()]
    assert parts and all(p.get_content_type() == "application/node.eks.aws" for p in parts)
    return [json.loads(p.get_payload(decode=True).decode().strip().removeprefix("---")) for p in parts]


def max_pods_expression(graph: Graph, ng: RecordedResource) -> str:
    [expression] = [d["spec"]["kubelet"]["maxPodsExpression"] for d in node_configs(graph, ng)
                    if "maxPodsExpression" in d["spec"].get("kubelet", {})]
    return expression


def groups_by_name(graph: Graph) -> dict[str, RecordedResource]:
    prefix = f"{graph.project}-{graph.stack}-"
    return {ng.inputs["nodeGroupNamePrefix"].removeprefix(prefix).rstrip("-"): ng for ng in graph.of_type(MNG)}


def drop_dependency(r: RecordedResource, urn: str) -> None:
    r.dependencies = tuple(d for d in r.dependencies if d != urn)
    r.property_dependencies = {k: tuple(d for d in v if d != urn) for k, v in r.property_dependencies.items()}


def eni_cleanup(graph: Graph) -> RecordedResource:
    found = [c for c in graph.of_type(COMMAND) if (c.inputs.get("environment") or {}).get("CLUSTER_TAG")]
    assert len(found) == 1, "exactly one ENI cleanup"
    return found[0]


# --- cluster -----------------------------------------------------------------------------


def test_cluster_security_settings(graph: Graph, raw_config: dict[str, Any]):
    cluster = graph.one(EKS)
    key = graph.one("aws:kms/key:Key")
    assert cluster.inputs["authenticationMode"] == "API"
    assert cluster.inputs["createOidcProvider"] is True
    assert cluster.inputs["encryptionConfigKeyArn"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert {"api", "audit", "authenticator"} <= set(cluster.inputs["enabledClusterLogTypes"])
    assert cluster.inputs["nodeAssociatePublicIpAddress"] is False
    assert cluster.inputs["endpointPublicAccess"] == raw_config["cilium-eks:endpointPublicAccess"]
    assert cluster.inputs["publicAccessCidrs"] == raw_config["cilium-eks:publicAccessCidrs"]
    assert cluster.inputs["version"] == raw_config.get("cilium-eks:kubernetesVersion", "1.34")


def test_prod_api_is_private_and_not_open_to_the_internet():
    cluster = committed_graph("prod").one(EKS)
    assert cluster.inputs["endpointPrivateAccess"] is True
    assert not any(c.endswith("/0") for c in cluster.inputs["publicAccessCidrs"])
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_cluster_lives_in_the_program_vpc(graph: Graph):
    cluster = graph.one(EKS)
    vpc = graph.one("aws:ec2/vpc:Vpc")
    assert cluster.inputs["vpcId"] == vpc.id
    assert cluster.inputs["privateSubnetIds"] == [s.id for s in subnets(graph, "private")]
    assert cluster.inputs["publicSubnetIds"] == [s.id for s in subnets(graph, "public")]


# --- network -------------------------------------------------------------------------------


def test_subnets_tags_and_nat(graph: Graph, raw_config: dict[str, Any]):
    azs = raw_config["cilium-eks:availabilityZoneCount"]
    cluster_tag = f"kubernetes.io/cluster/{graph.project}-{graph.stack}"
    private, public = subnets(graph, "private"), subnets(graph, "public")
    assert len(private) == len(public) == azs
    assert len({s.inputs["availabilityZone"] for s in private}) == azs
    for s in private:
        tags = s.inputs["tags"]
        assert tags["kubernetes.io/role/internal-elb"] == "1" and tags[cluster_tag] == "shared"
        assert tags[POD_SUBNET_TAG[0]] == POD_SUBNET_TAG[1]
        assert s.inputs["mapPublicIpOnLaunch"] is False
    for s in public:
        tags = s.inputs["tags"]
        assert tags["kubernetes.io/role/elb"] == "1" and POD_SUBNET_TAG[0] not in tags
    nats = graph.of_type("aws:ec2/natGateway:NatGateway")
    expected = azs if raw_config["cilium-eks:natGateways"] == "one-per-az" else 1
    assert len(nats) == expected
    public_ids = {s.id for s in public}
    assert all(n.inputs["subnetId"] in public_ids for n in nats)
    # Every private subnet routes to the internet only through a NAT gateway.
    nat_ids = {n.id for n in nats}
    private_rts = [r for r in graph.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in r.name]
    assert len(private_rts) == azs
    for rt in private_rts:
        assert [r.get("natGatewayId") for r in rt.inputs["routes"]] and all(
            r.get("natGatewayId") in nat_ids and not r.get("gatewayId") for r in rt.inputs["routes"])


def test_existing_vpc_is_adopted_not_created():
    graph = graph_with("dev", existingVpcId="vpc-0123456789abcdef0",
                       existingPrivateSubnetIds=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"])
    assert graph.of_type("aws:ec2/vpc:Vpc") == [] and graph.of_type("aws:ec2/subnet:Subnet") == []
    cluster = graph.one(EKS)
    assert cluster.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster.inputs["privateSubnetIds"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    tags = {(t.inputs["resourceId"], t.inputs["key"], t.inputs["value"]) for t in graph.of_type("aws:ec2/tag:Tag")}
    for sid in ("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"):
        assert (sid, POD_SUBNET_TAG[0], POD_SUBNET_TAG[1]) in tags
        assert (sid, "kubernetes.io/cluster/cilium-eks-dev", "shared") in tags
        # Internal load balancers (the Hubble UI's) land in the private subnets.
        assert (sid, "kubernetes.io/role/internal-elb", "1") in tags
    assert len(tags) == 6, "only the three tags per private subnet, nothing on public subnets"
    for ng in graph.of_type(MNG):
        assert ng.inputs["subnetIds"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]


# --- aws-node ------------------------------------------------------------------------------


def test_aws_node_is_disabled_by_a_forced_patch_before_cilium(graph: Graph):
    patch = graph.one("kubernetes:apps/v1:DaemonSetPatch")
    assert patch.inputs["metadata"]["name"] == "aws-node"
    assert patch.inputs["metadata"]["namespace"] == "kube-system"
    assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    assert patch.inputs["spec"]["template"]["spec"]["nodeSelector"] == AWS_NODE_DISABLE_SELECTOR
    k8s_provider = graph.named(f"{graph.project}-{graph.stack}-cluster-k8s")
    assert patch.provider is not None and patch.provider.startswith(k8s_provider.urn)
    assert patch.urn in release(graph).explicit_dependencies


def test_delete_mode_deletes_aws_node_once_before_cilium():
    graph = graph_with("dev", awsNodeMode="delete")
    assert graph.of_type("kubernetes:apps/v1:DaemonSetPatch") == []
    # The other command is the ENI cleanup, which acts on destroy only.
    [cmd] = [c for c in graph.of_type(COMMAND) if c.urn != eni_cleanup(graph).urn]
    assert "delete daemonset" in cmd.inputs["create"] and "--ignore-not-found" in cmd.inputs["create"]
    assert cmd.inputs["environment"]["DAEMONSET"] == "aws-node"
    assert "delete" not in cmd.inputs, "destroy must not try to touch a cluster that is going away"
    assert cmd.urn in release(graph).explicit_dependencies


# --- Cilium --------------------------------------------------------------------------------


def test_operator_uses_an_irsa_role_trusted_only_by_its_service_account(graph: Graph):
    role = graph.named(f"{graph.project}-{graph.stack}-cilium-operator")
    assert values(graph)["eni"]["iamRole"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    oidc = graph.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    issuer = oidc.outputs["url"].removeprefix("https://")
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:cilium-operator",
        f"{issuer}:aud": "sts.amazonaws.com",
    }


def test_operator_actions_follow_the_options_that_need_them():
    graph = graph_with("dev", ciliumExtraValues={"eni": {"awsReleaseExcessIPs": True,
                                                         "instanceTagsFilter": ["team=a"]}})
    policy = graph.named("cilium-eks-dev-cilium-operator-eni")
    actions = {a for st in json.loads(policy.inputs["policy"])["Statement"] for a in st["Action"]}
    assert {"ec2:UnassignPrivateIpAddresses", "ec2:DescribeInstances"} <= actions
    assert "ec2:AssignIpv6Addresses" not in actions
    assert values(graph)["eni"]["awsReleaseExcessIPs"] is True


def test_hubble_is_on_in_the_cilium_release_never_in_a_second_one(graph: Graph):
    h = values(graph)["hubble"]
    assert h["enabled"] and h["relay"]["enabled"] and h["ui"]["enabled"]
    hubble_charts = [r for r in graph.of_type(RELEASE) if "hubble" in str(r.inputs.get("chart"))]
    assert hubble_charts == [], "Hubble is values of the Cilium release, never a second release"


def test_operator_replicas_follow_the_node_count():
    assert values(committed_graph("dev"))["operator"]["replicas"] == 2
    single = graph_with("dev", nodeGroups={"general": {"minSize": 1, "desiredSize": 1, "maxSize": 3}})
    assert values(single)["operator"]["replicas"] == 1


def test_kube_proxy_replacement_points_cilium_at_the_api_and_takes_kube_proxy_out():
    graph = graph_with("dev", ciliumKubeProxyReplacement=True)
    v = values(graph)
    endpoint = graph.one("aws:eks/cluster:Cluster").outputs["endpoint"]
    assert v["kubeProxyReplacement"] is True
    assert v["k8sServiceHost"] == endpoint.removeprefix("https://") and v["k8sServicePort"] == 443
    patched = {p.inputs["metadata"]["name"] for p in graph.of_type("kubernetes:apps/v1:DaemonSetPatch")}
    assert patched == {"aws-node", "kube-proxy"}
    assert graph.one(EKS).inputs["kubeProxyAddonOptions"] == {"enabled": False}
    assert all(p.urn in release(graph).explicit_dependencies
               for p in graph.of_type("kubernetes:apps/v1:DaemonSetPatch"))


def test_extra_values_are_merged_but_cannot_override_eni():
    graph = graph_with("dev", ciliumExtraValues={"bpf": {"monitorAggregation": "medium"}})
    assert values(graph)["bpf"] == {"monitorAggregation": "medium"}
    with pytest.raises(ConfigError, match=r"ciliumExtraValues\.eni\.enabled"):
        graph_with("dev", ciliumExtraValues={"eni": {"enabled": False}})


# --- node groups ---------------------------------------------------------------------------


def test_every_node_group_joins_after_cilium_with_the_taint(graph: Graph, raw_config: dict[str, Any]):
    rel = release(graph)
    groups = graph.of_type(MNG)
    assert len(groups) == len(raw_config["cilium-eks:nodeGroups"]) >= 1
    for ng in groups:
        assert rel.urn in ng.explicit_dependencies, f"{ng.name} must explicitly wait for the Cilium release"
        assert graph.waits_for(ng.urn, rel.urn)
        assert AGENT_NOT_READY_TAINT in ng.inputs["taints"]
        # A pinned AMI: pulumi-eks builds a launch template whose kubelet flags register the taint too.
        assert ng.inputs["amiId"] == launch_template(graph, ng).inputs["imageId"]
        flags = [f for d in node_configs(graph, ng) for f in d["spec"].get("kubelet", {}).get("flags", [])]
        assert "--register-with-taints=node.cilium.io/agent-not-ready=true:NoExecute" in flags
        cluster = graph.one(EKS)
        assert ng.inputs["cluster"] == ResourceRef(cluster.urn), "node group targets the cluster by reference"


def test_nodes_live_in_private_subnets_only(graph: Graph):
    private_ids = [s.id for s in subnets(graph, "private")]
    for ng in graph.of_type(MNG):
        assert ng.inputs["subnetIds"] == private_ids
        [aws_ng] = [r for r in graph.descendants(ng.urn) if r.type == "aws:eks/nodeGroup:NodeGroup"]
        assert aws_ng.synthetic and aws_ng.inputs["subnetIds"] == private_ids


def test_node_group_sizes_come_from_config(graph: Graph, raw_config: dict[str, Any]):
    by_prefix = {ng.inputs["nodeGroupNamePrefix"]: ng for ng in graph.of_type(MNG)}
    for name, spec in raw_config["cilium-eks:nodeGroups"].items():
        ng = by_prefix[f"{graph.project}-{graph.stack}-{name}-"]
        assert ng.inputs["scalingConfig"] == {
            "minSize": spec["minSize"], "desiredSize": spec["desiredSize"], "maxSize": spec["maxSize"]}
        assert ng.inputs["instanceTypes"] == spec["instanceTypes"]
        assert ng.inputs["capacityType"] == spec["capacityType"]


def test_node_groups_user_data_carries_the_capacity_models_max_pods_expression(stack: str, graph: Graph):
    cfg = config(stack)
    by_name = groups_by_name(graph)
    assert set(by_name) == {g.name for g in cfg.node_groups}
    for group in cfg.node_groups:
        ng = by_name[group.name]
        types = [instance_types.lookup(t) for t in group.instance_types]
        expected = cfg.pod_addressing.expression(group_cap(types))
        assert max_pods_expression(graph, ng) == expected
        assert [o["contentType"] for o in ng.inputs["nodeadmExtraOptions"]] == ["application/node.eks.aws"]
        # No --max-pods flag: nodeadm sizes kube-reserved from the expression.
        assert "kubeletExtraArgs" not in ng.inputs
        assert "* 16" not in expected, "no committed stack delegates prefixes (cilium/cilium#47910 on 1.20.0)"


def test_prefix_delegation_raises_max_pods_in_step_with_cilium():
    # No committed stack turns it on (cilium/cilium#47910 on 1.20.0); dev may, with a warning.
    on = graph_with("dev", ciliumPrefixDelegation=True)
    assert values(on)["eni"]["awsEnablePrefixDelegation"] is True
    dev = committed_graph("dev")
    assert values(dev)["eni"]["awsEnablePrefixDelegation"] is False
    expected = config("dev", ciliumPrefixDelegation=True).cilium.pod_addressing.expression(110)
    assert "default_enis * (ips_per_eni - 1) * 16 - " in expected
    for name, ng in groups_by_name(on).items():
        assert max_pods_expression(on, ng) == expected
        without = max_pods_expression(dev, groups_by_name(dev)[name])
        assert expected == without.replace("(ips_per_eni - 1)", "(ips_per_eni - 1) * 16")
        assert "kubeletExtraArgs" not in ng.inputs


def test_the_ami_comes_from_the_ssm_parameter_of_the_pinned_release(stack: str):
    graph, invokes = with_invokes(stack)
    cfg = config(stack)
    assert cfg.node_ami_release == DEFAULT_AMI_RELEASE
    read = [args["name"] for token, args in invokes if token == "aws:ssm/getParameter:getParameter"]
    by_name = groups_by_name(graph)
    for group in cfg.node_groups:
        [arch] = {instance_types.lookup(t).architecture for t in group.instance_types}  # type: ignore[union-attr]
        assert arch == "amd64"
        parameter = ami_parameter(cfg.cluster.kubernetes_version, "x86_64", DEFAULT_AMI_RELEASE)
        assert parameter in read
        assert by_name[group.name].inputs["amiId"] == "ami-" + hex_id(parameter)
    assert len(read) == len(cfg.node_groups)


def test_the_ami_follows_node_ami_release_kubernetes_version_and_architecture():
    graph, invokes = with_invokes("dev", nodeAmiRelease="v20250101", kubernetesVersion="1.33",
                                  nodeGroups={"general": {"instanceTypes": ["m7g.large"], "minSize": 1,
                                                          "desiredSize": 1, "maxSize": 2}})
    [parameter] = [args["name"] for token, args in invokes if token == "aws:ssm/getParameter:getParameter"]
    assert parameter == ami_parameter("1.33", "arm64", "v20250101")
    [ng] = graph.of_type(MNG)
    assert ng.inputs["amiId"] == launch_template(graph, ng).inputs["imageId"] == "ami-" + hex_id(parameter)
    assert ng.inputs["amiId"] != committed_graph("dev").of_type(MNG)[0].inputs["amiId"]


# --- Hubble access -------------------------------------------------------------------------


def test_hubble_ui_is_never_public():
    dev = committed_graph("dev")
    # port-forward mode declares no Service for Hubble (the demo's ClusterIP deathstar is not Hubble's)
    assert [s for s in dev.of_type("kubernetes:core/v1:Service")
            if s.parent and dev.get(s.parent).type == "cilium-eks:components:Hubble"] == []
    assert "port-forward service/hubble-ui" in dev.outputs["hubble_ui_command"]
    prod = committed_graph("prod")
    [svc] = prod.of_type("kubernetes:core/v1:Service")
    annotations = svc.inputs["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert svc.inputs["spec"]["loadBalancerSourceRanges"] == [stack_config("prod")["cilium-eks:vpcCidr"]]
    assert svc.inputs["spec"]["type"] == "LoadBalancer"
    assert svc.inputs["spec"]["selector"] == {"k8s-app": "hubble-ui"}
    assert release(prod).urn in svc.explicit_dependencies
    assert all(ng.urn in svc.explicit_dependencies for ng in prod.of_type(MNG))


# --- every resource ------------------------------------------------------------------------


def test_every_resource_hangs_under_a_component_of_the_stack(graph: Graph):
    for r in graph:
        if r.synthetic:
            continue
        assert r.parent is not None
        if r.type.startswith("cilium-eks:components:"):
            assert r.parent == graph.stack_urn
        else:
            assert graph.get(r.parent).type.startswith("cilium-eks:components:"), r.name


def test_names_derive_from_the_stack_so_two_stacks_share_an_account():
    config = stack_config("dev")
    a, b = run_program("dev", config=config), run_program("dev2", config=config)

    def physical(graph: Graph) -> set[str]:
        names = set()
        for r in graph:
            if r.synthetic:
                continue
            for key in ("name", "nodeGroupNamePrefix"):
                if isinstance(r.inputs.get(key), str) and r.type.startswith(("aws:", "eks:")):
                    names.add(r.inputs[key])
            tag = (r.inputs.get("tags") or {}).get("Name") if isinstance(r.inputs.get("tags"), dict) else None
            if tag:
                names.add(tag)
        return names

    names_a, names_b = physical(a), physical(b)
    assert names_a and not names_a & names_b
    assert all(n.removeprefix("alias/").startswith("cilium-eks-dev") for n in names_a)
    assert {r.name for r in a if not r.synthetic}.isdisjoint({r.name for r in b if not r.synthetic})


def test_outputs_are_present_and_the_kubeconfig_is_secret(graph: Graph):
    required = {"vpc_id", "private_subnet_ids", "cluster_name", "cluster_endpoint", "oidc_provider_arn",
                "kubeconfig", "cilium_version", "node_group_names", "hubble_ui_command"}
    assert required <= set(graph.outputs)
    assert isinstance(graph.outputs["kubeconfig"], Secret)
    kubeconfig = json.loads(graph.outputs["kubeconfig"].value)
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "aws"
    secret = {"kubeconfig", "grafana_admin_password"}
    assert not any(isinstance(v, Secret) for k, v in graph.outputs.items() if k not in secret)
    assert all(isinstance(graph.outputs[k], Secret) for k in secret & set(graph.outputs))
    assert graph.outputs["cluster_name"] == f"{graph.project}-{graph.stack}"
    assert graph.outputs["cilium_version"] == "1.20.0"
    assert graph.outputs["private_subnet_ids"] == [s.id for s in subnets(graph, "private")]
    assert len(graph.outputs["node_group_names"]) == len(graph.of_type(MNG))


def test_invalid_config_fails_before_any_resource_is_declared():
    monitors: list[Any] = []
    with pytest.raises(ConfigError) as exc:
        run_program("dev", overrides={"vpcCidr": "10.0.0.0/33", "awsNodeMode": "remove",
                                      "nodeGroups": {"general": {"minSize": 3, "desiredSize": 2, "maxSize": 1}}},
                    on_monitor=monitors.append)
    assert len(exc.value.problems) >= 3
    assert monitors[0].recorded == {}, "nothing may be declared when the config is invalid"


def test_the_control_plane_does_not_wait_for_nat_but_every_node_group_does(graph: Graph):
    # The control plane's ENIs never leave the VPC: it starts as soon as the subnets exist.
    # Nodes must reach ECR and the EKS API through NAT when they boot.
    routes = [r for r in graph.of_type(ROUTE_ASSOCIATION) if "-private-" in r.name]
    nats = graph.of_type(NAT)
    assert routes and nats
    for control_plane in [graph.one(EKS), graph.one("aws:eks/cluster:Cluster")]:
        assert all(graph.waits_for(control_plane.urn, s.urn) for s in subnets(graph, "private"))
        for dep in [*routes, *nats]:
            assert not graph.waits_for(control_plane.urn, dep.urn), f"{control_plane.name} waits for {dep.name}"
    groups = graph.of_type(MNG)
    assert groups
    for ng in groups:
        for dep in [*routes, *nats]:
            assert graph.waits_for(ng.urn, dep.urn), f"{ng.name} does not wait for {dep.name}"


# --- destroy order -------------------------------------------------------------------------


def test_every_ordering_rule_holds_both_ways(stack: str, graph: Graph):
    findings = check_ordering(graph.dependency_graph())
    bad = [f"{f.rule.name}: {f.later and f.later.name} / {f.earlier and f.earlier.name}" for f in findings if not f.ok]
    assert findings and not bad, bad
    checked = {f.rule.name for f in findings}
    assert {"nodes-after-eni-cleanup", "eni-cleanup-after-subnets"} <= checked
    # Only prod has a LoadBalancer Service (the internal Hubble UI); elsewhere the rule has nothing to check.
    has_load_balancer = any(s.inputs["spec"].get("type") == "LoadBalancer" for s in graph.of_type(SERVICE))
    assert ("load-balancers-after-nodes" in checked) == has_load_balancer
    assert has_load_balancer == (stack == "prod")


def test_the_eni_cleanup_runs_between_the_nodes_and_the_subnets_on_destroy(graph: Graph):
    cmd = eni_cleanup(graph)
    every_subnet = graph.of_type("aws:ec2/subnet:Subnet")
    assert every_subnet and cmd.explicit_dependencies == {s.urn for s in every_subnet}
    for ng in graph.of_type(MNG):
        assert cmd.urn in ng.explicit_dependencies and graph.waits_for(ng.urn, cmd.urn)
    # It cleans the ENIs of this cluster's cilium-operator: the tag carries Cilium's cluster.name.
    assert cmd.inputs["environment"]["CLUSTER_NAME"] == values(graph)["cluster"]["name"]
    assert cmd.inputs["create"].strip() == "true"


def _without(graph: Graph, later: Callable[[Graph], RecordedResource], earlier: Callable[[Graph], RecordedResource]
             ) -> Graph:
    broken = copy.deepcopy(graph)
    drop_dependency(later(broken), earlier(broken).urn)
    return broken


def _first_group(graph: Graph) -> RecordedResource:
    return sorted(graph.of_type(MNG), key=lambda r: r.urn)[0]


def _hubble_service(graph: Graph) -> RecordedResource:
    [svc] = [s for s in graph.of_type(SERVICE) if s.inputs["spec"].get("type") == "LoadBalancer"]
    return svc


NEGATIVE_CONTROLS: dict[str, tuple[str, Callable[[Graph], RecordedResource], Callable[[Graph], RecordedResource]]] = {
    "nodes-after-eni-cleanup": ("dev", _first_group, eni_cleanup),
    "eni-cleanup-after-subnets": ("dev", eni_cleanup, lambda g: subnets(g, "private")[0]),
    "load-balancers-after-nodes": ("prod", _hubble_service, _first_group),
}


@pytest.mark.parametrize("rule", sorted(NEGATIVE_CONTROLS))
def test_a_missing_destroy_order_dependency_is_found(rule: str):
    stack, later, earlier = NEGATIVE_CONTROLS[rule]
    graph = committed_graph(stack)
    broken = _without(graph, later, earlier)
    [finding] = [f for f in check_ordering(broken.dependency_graph()) if not f.ok]
    assert finding.rule is RULES_BY_NAME[rule]
    assert finding.later is not None and finding.later.urn == later(graph).urn
    assert finding.earlier is not None and finding.earlier.urn == earlier(graph).urn
    assert all(f.ok for f in check_ordering(graph.dependency_graph())), "the committed graph was not altered"


def test_without_the_eni_cleanup_the_nodes_rule_fails_and_the_subnets_rule_has_nothing_to_order():
    broken = copy.deepcopy(committed_graph("dev"))
    del broken.resources[eni_cleanup(broken).urn]
    for ng in broken.of_type(MNG):
        ng.dependencies = tuple(d for d in ng.dependencies if d in broken.resources)
    findings = check_ordering(broken.dependency_graph())
    failed = {f.rule.name for f in findings if not f.ok}
    assert failed == {"nodes-after-eni-cleanup"}
    assert "eni-cleanup-after-subnets" not in {f.rule.name for f in findings}, "an optional rule without a role"


# --- adopted VPC ---------------------------------------------------------------------------


def test_an_adopted_vpcs_internal_hubble_load_balancer_admits_the_vpcs_cidrs():
    graph, invokes = with_invokes("dev", hubbleUiAccess="internal-load-balancer", **EXISTING_VPC)
    vpc_id = EXISTING_VPC["existingVpcId"]
    assert [args for token, args in invokes if token == "aws:ec2/getVpc:getVpc"] == [{"id": vpc_id}]
    # What EC2 (the mock) says of the VPC: every associated block, the secondary one too.
    described = EngineMocks("eu-west-1", "cilium-eks", "dev").call("aws:ec2/getVpc:getVpc", {"id": vpc_id})
    blocks = sorted(b["cidrBlock"] for b in described["cidrBlockAssociations"])
    assert len(blocks) == 2
    svc = _hubble_service(graph)
    assert svc.inputs["spec"]["loadBalancerSourceRanges"] == blocks
    assert config("dev").vpc_cidr not in blocks, "not the vpcCidr key, which an adopted VPC does not use"
    assert svc.inputs["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    # Nothing of ours to clean around: no subnets, so only the nodes wait for the ENI cleanup.
    findings = check_ordering(graph.dependency_graph())
    assert all(f.ok for f in findings)
    assert "eni-cleanup-after-subnets" not in {f.rule.name for f in findings}
    assert "load-balancers-after-nodes" in {f.rule.name for f in findings}


def test_a_new_vpcs_hubble_load_balancer_admits_its_cidr_without_reading_ec2():
    graph, invokes = with_invokes("dev", hubbleUiAccess="internal-load-balancer")
    assert not any(token == "aws:ec2/getVpc:getVpc" for token, _ in invokes)
    assert _hubble_service(graph).inputs["spec"]["loadBalancerSourceRanges"] == [config("dev").vpc_cidr]


# --- Kubernetes provider and add-ons ---------------------------------------------------------


def test_the_kubernetes_provider_never_deletes_unreachable_resources(graph: Graph):
    provider = graph.named(f"{graph.project}-{graph.stack}-cluster-k8s")
    assert provider.inputs["enableServerSideApply"] == "true"
    # Set permanently, a refresh from outside publicAccessCidrs would drop resources from state.
    assert "deleteUnreachable" not in provider.inputs
    assert not any("deleteUnreachable" in p.inputs for p in graph.of_type("pulumi:providers:kubernetes"))


def test_coredns_is_the_managed_add_on_created_after_the_node_groups(stack: str, graph: Graph):
    [coredns] = [a for a in graph.of_type(ADDON) if a.inputs.get("addonName") == "coredns"]
    assert not coredns.synthetic and graph.get(str(coredns.parent)).type == "cilium-eks:components:CoreDns"
    assert coredns.inputs["clusterName"] == graph.one("aws:eks/cluster:Cluster").outputs["name"]
    groups = graph.of_type(MNG)
    assert groups and all(graph.waits_for(coredns.urn, ng.urn) for ng in groups)
    assert coredns.inputs["resolveConflictsOnCreate"] == coredns.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
    # The mock's lookup answers v1.12.4-eksbuild.<minor> for the Kubernetes version it is asked about.
    version = config(stack).cluster.kubernetes_version
    assert coredns.inputs["addonVersion"] == f"v1.12.4-eksbuild.{version.split('.')[1]}"
    assert not [a for a in graph.of_type(ADDON) if a.synthetic and a.inputs.get("addonName") == "coredns"], \
        "pulumi-eks must not install a second CoreDNS add-on"


def test_config_warnings_reach_the_engine_log_as_warnings():
    """The program reports what `pulumi up` would refuse through pulumi.log (the engine shows it in the
    preview's diagnostics); prod's documentation-range placeholder is one, dev has none."""
    prod = committed_graph("prod")
    assert [m for level, m in prod.logs if level == "warning" and "refused by `pulumi up`" in m
            and "publicAccessCidrs" in m and "203.0.113.0/24" in m]
    assert not [m for level, m in committed_graph("dev").logs if level in ("warning", "error")]
