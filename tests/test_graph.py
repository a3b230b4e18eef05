"""The resource graph of the real program, for every committed stack, under the mock engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cilium_eks.aws_node import DISABLE_SELECTOR as AWS_NODE_DISABLE_SELECTOR
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.config import ConfigError
from cilium_eks.network import POD_SUBNET_TAG
from tests.conftest import committed_graph, graph_with
from tooling.mockengine import Graph, RecordedResource, ResourceRef, Secret, run_program
from tooling.stackfiles import stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
MNG = "eks:index:ManagedNodeGroup"
EKS = "eks:index:Cluster"


def release(graph: Graph) -> RecordedResource:
    found = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == "cilium"]
    assert len(found) == 1, "exactly one Cilium release"
    return found[0]


def values(graph: Graph) -> dict[str, Any]:
    return release(graph).inputs["values"]


def subnets(graph: Graph, kind: str) -> list[RecordedResource]:
    return [r for r in graph.of_type("aws:ec2/subnet:Subnet") if f"-{kind}-" in r.name]


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
    cmd = graph.one("command:local:Command")
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
    actions = set(json.loads(policy.inputs["policy"])["Statement"][0]["Action"])
    assert {"ec2:UnassignPrivateIpAddresses", "ec2:DescribeInstances"} <= actions
    assert "ec2:AssignIpv6Addresses" not in actions
    assert values(graph)["eni"]["awsReleaseExcessIPs"] is True


def test_hubble_is_on_in_the_cilium_release_never_in_a_second_one(graph: Graph):
    h = values(graph)["hubble"]
    assert h["enabled"] and h["relay"]["enabled"] and h["ui"]["enabled"]
    assert len(graph.of_type(RELEASE)) == 1, "Hubble is values of the Cilium release, never a second release"


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
        assert ng.inputs["operatingSystem"] == "AL2023"
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


def test_prefix_delegation_raises_max_pods_in_step_with_cilium():
    # No committed stack turns it on (cilium/cilium#47910 on 1.20.0); dev may, with a warning.
    on = graph_with("dev", ciliumPrefixDelegation=True)
    assert values(on)["eni"]["awsEnablePrefixDelegation"] is True
    assert on.of_type(MNG) and all(ng.inputs["kubeletExtraArgs"] == "--max-pods=110" for ng in on.of_type(MNG))
    dev = committed_graph("dev")
    assert values(dev)["eni"]["awsEnablePrefixDelegation"] is False
    assert all("kubeletExtraArgs" not in ng.inputs for ng in dev.of_type(MNG))


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
    assert not any(isinstance(v, Secret) for k, v in graph.outputs.items() if k != "kubeconfig")
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


def test_private_subnet_users_wait_for_the_nat_routes(graph: Graph):
    # Nodes must reach ECR and the EKS API through NAT when they boot.
    routes = [r for r in graph.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation") if "-private-" in r.name]
    nats = graph.of_type("aws:ec2/natGateway:NatGateway")
    assert routes and nats
    for user in [graph.one(EKS), *graph.of_type(MNG)]:
        for dep in routes:
            assert dep.urn in user.dependencies, f"{user.name} does not wait for {dep.name}"
        assert all(graph.waits_for(user.urn, n.urn) for n in nats)
