"""Network alone: a new VPC carved per AZ with NAT as asked, or an adopted VPC that only gets tags
(and whose CIDRs are read from EC2)."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from cilium_eks.network import POD_SUBNET_TAG, ExistingVpc, NewVpc, default_subnet_cidrs
from components import Network, NetworkArgs
from tests.components.harness import build, children, component
from tooling.mockengine import Graph, RecordedResource
from tooling.mockengine.monitor import RecordingMonitor

TOKEN = "cilium-eks:components:Network"
OUTPUTS = {"vpc_id", "vpc_cidrs", "private_subnet_ids", "routed_private_subnet_ids", "public_subnet_ids"}
STAND_INS = {"user", "nodes", "after-subnets"}
CLUSTER_TAG = "kubernetes.io/cluster/blue"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
TAG = "aws:ec2/tag:Tag"
EXISTING = ExistingVpc(vpc_id="vpc-0123456789abcdef0",
                       private_subnet_ids=("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"),
                       public_subnet_ids=("subnet-0bbbbbbbbbbbbbbb1",))


def new_vpc(azs: int, nat: str) -> NewVpc:
    private, public = default_subnet_cidrs("10.20.0.0/16", azs)
    return NewVpc(cidr="10.20.0.0/16", availability_zone_count=azs, nat_gateways=nat,  # type: ignore[arg-type]
                  public_subnet_cidrs=public, private_subnet_cidrs=private)


def build_network(vpc: NewVpc | ExistingVpc, on_monitor: Callable[[RecordingMonitor], None] | None = None) -> Graph:
    def program() -> None:
        network = Network("net", NetworkArgs(name_prefix="blue", cluster_name="blue", vpc=vpc, tags={"team": "net"}))
        # Users outside the component: of the private subnets (a control plane), of the routed
        # private subnets (nodes), and of the subnets as resources (the ENI cleanup).
        aws.ec2.Tag("user", resource_id=network.private_subnet_ids.apply(lambda ids: ids[0]), key="k", value="v")
        aws.ec2.Tag("nodes", resource_id=network.routed_private_subnet_ids.apply(lambda ids: ids[0]),
                    key="k", value="v")
        aws.ec2.Tag("after-subnets", resource_id="x", key="k", value="v",
                    opts=pulumi.ResourceOptions(depends_on=network.subnets))

    return build(program, on_monitor=on_monitor)


def network(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs=OUTPUTS)


def of(graph: Graph, type_: str, kind: str = "") -> list[RecordedResource]:
    return sorted((r for r in children(graph, network(graph)) if r.type == type_ and f"-{kind}" in r.name),
                  key=lambda r: r.name)


@pytest.mark.parametrize(("azs", "nat", "nats"), [(2, "single", 1), (3, "single", 1), (3, "one-per-az", 3)])
def test_a_new_vpc_gets_subnets_per_az_and_nat_as_asked(azs: int, nat: str, nats: int):
    graph = build_network(new_vpc(azs, nat))
    private, public = of(graph, SUBNET, "private-"), of(graph, SUBNET, "public-")
    assert len(private) == len(public) == azs
    assert [s.inputs["availabilityZone"] for s in private] == [f"eu-west-1{c}" for c in "abcdef"[:azs]]
    assert [s.inputs["cidrBlock"] for s in private] == list(new_vpc(azs, nat).private_subnet_cidrs)
    gateways = of(graph, NAT)
    assert len(gateways) == len(of(graph, "aws:ec2/eip:Eip")) == nats
    public_ids = [s.id for s in public]
    assert [g.inputs["subnetId"] for g in gateways] == public_ids[:nats]
    # Each private subnet routes to the internet through a NAT gateway (its own AZ's when there is one per AZ).
    tables = of(graph, ROUTE_TABLE, "private-")
    assert len(tables) == azs
    for i, table in enumerate(tables):
        [route] = table.inputs["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0" and "gatewayId" not in route
        assert route["natGatewayId"] == gateways[i if nats > 1 else 0].id


def test_nat_gateways_wait_for_the_internet_gateway():
    graph = build_network(new_vpc(2, "one-per-az"))
    [igw] = of(graph, "aws:ec2/internetGateway:InternetGateway")
    assert all(igw.urn in g.explicit_dependencies for g in of(graph, NAT))


def test_subnets_carry_the_eks_and_pod_eni_tags_and_no_public_ips():
    graph = build_network(new_vpc(2, "single"))
    for s in of(graph, SUBNET, "private-"):
        tags = s.inputs["tags"]
        assert tags[CLUSTER_TAG] == "shared" and tags["kubernetes.io/role/internal-elb"] == "1"
        assert tags[POD_SUBNET_TAG[0]] == POD_SUBNET_TAG[1] and tags["team"] == "net"
        assert s.inputs["mapPublicIpOnLaunch"] is False
    for s in of(graph, SUBNET, "public-"):
        tags = s.inputs["tags"]
        assert tags[CLUSTER_TAG] == "shared" and tags["kubernetes.io/role/elb"] == "1"
        assert POD_SUBNET_TAG[0] not in tags, "pods must never get ENIs in a public subnet"
        assert s.inputs["mapPublicIpOnLaunch"] is False


def test_outputs_are_the_vpc_and_its_subnets():
    graph = build_network(new_vpc(2, "single"))
    outputs = network(graph).registered_outputs
    [vpc] = of(graph, "aws:ec2/vpc:Vpc")
    assert outputs["vpc_id"] == vpc.id
    assert outputs["vpc_cidrs"] == ["10.20.0.0/16"] == [vpc.inputs["cidrBlock"]]
    assert outputs["private_subnet_ids"] == [s.id for s in of(graph, SUBNET, "private-")]
    assert outputs["public_subnet_ids"] == [s.id for s in of(graph, SUBNET, "public-")]


def test_private_subnet_users_wait_for_the_subnets_only_and_routed_users_for_the_nat_routes():
    graph = build_network(new_vpc(2, "single"))
    private = of(graph, SUBNET, "private-")
    routes = of(graph, ASSOCIATION, "private-")
    [nat] = of(graph, NAT)
    assert len(routes) == len(private) == 2
    # The control plane takes private_subnet_ids: it must not wait ~2 min for the NAT gateway.
    user = graph.named("user")
    assert user.inputs["resourceId"] == private[0].id
    assert all(graph.waits_for(user.urn, s.urn) for s in private)
    assert not any(r.urn in user.dependencies for r in routes)
    assert not graph.waits_for(user.urn, nat.urn)
    # Nodes take routed_private_subnet_ids: the same ids, once they route to the internet through NAT.
    nodes = graph.named("nodes")
    assert nodes.inputs["resourceId"] == private[0].id
    assert all(r.urn in nodes.dependencies for r in routes)
    assert graph.waits_for(nodes.urn, nat.urn)


def test_the_subnets_attribute_is_every_subnet_created():
    graph = build_network(new_vpc(3, "single"))
    subnets = {s.urn for s in of(graph, SUBNET)}
    assert len(subnets) == 6
    assert set(graph.named("after-subnets").explicit_dependencies) == subnets


def test_an_existing_vpc_gets_only_tags_on_its_private_subnets():
    monitors: list[RecordingMonitor] = []
    graph = build_network(EXISTING, on_monitor=monitors.append)
    comp = network(graph)
    assert {r.type for r in children(graph, comp)} == {TAG}
    tags = {(t.inputs["resourceId"], t.inputs["key"], t.inputs["value"]) for t in of(graph, TAG)}
    assert tags == {(sid, key, value) for sid in EXISTING.private_subnet_ids
                    for key, value in ((CLUSTER_TAG, "shared"), POD_SUBNET_TAG,
                                       ("kubernetes.io/role/internal-elb", "1"))}
    assert not any(sid in EXISTING.public_subnet_ids for sid, _, _ in tags), "public subnets stay untouched"
    # Every IPv4 block of the VPC, primary and secondary, as EC2 describes it (the mock: 10.99/16 + 100.64/16).
    described = [args for token, args in monitors[0].engine_mocks.invokes if token == "aws:ec2/getVpc:getVpc"]
    assert described == [{"id": EXISTING.vpc_id}]
    assert comp.registered_outputs == {"vpc_id": EXISTING.vpc_id,
                                       "vpc_cidrs": ["10.99.0.0/16", "100.64.0.0/16"],
                                       "private_subnet_ids": list(EXISTING.private_subnet_ids),
                                       "routed_private_subnet_ids": list(EXISTING.private_subnet_ids),
                                       "public_subnet_ids": list(EXISTING.public_subnet_ids)}
    # Someone else's subnets: nothing to wait for, routed or not, and no subnet resources of ours.
    for user in ("user", "nodes"):
        assert graph.named(user).inputs["resourceId"] == EXISTING.private_subnet_ids[0]
        assert graph.named(user).dependencies == ()
    assert graph.named("after-subnets").dependencies == ()


def test_a_new_vpc_reads_nothing_from_ec2_but_its_availability_zones():
    monitors: list[RecordingMonitor] = []
    build_network(new_vpc(2, "single"), on_monitor=monitors.append)
    assert [token for token, _ in monitors[0].engine_mocks.invokes] == [
        "aws:index/getAvailabilityZones:getAvailabilityZones"]
