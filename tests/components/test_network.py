"""Network alone: a new VPC carved per AZ with NAT as asked, or an adopted VPC that only gets tags."""

from __future__ import annotations

import pulumi_aws as aws
import pytest

from cilium_eks.network import POD_SUBNET_TAG, ExistingVpc, NewVpc, default_subnet_cidrs
from components import Network, NetworkArgs
from tests.components.harness import build, children, component
from tooling.mockengine import Graph, RecordedResource

TOKEN = "cilium-eks:components:Network"
OUTPUTS = {"vpc_id", "private_subnet_ids", "public_subnet_ids"}
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


def build_network(vpc: NewVpc | ExistingVpc) -> Graph:
    def program() -> None:
        network = Network("net", NetworkArgs(name_prefix="blue", cluster_name="blue", vpc=vpc, tags={"team": "net"}))
        # Something outside the component that runs in the private subnets (a cluster, nodes).
        aws.ec2.Tag("user", resource_id=network.private_subnet_ids.apply(lambda ids: ids[0]), key="k", value="v")

    return build(program)


def network(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins={"user"}, outputs=OUTPUTS)


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


def test_outputs_are_the_subnets_and_users_of_private_subnets_wait_for_their_nat_routes():
    graph = build_network(new_vpc(2, "single"))
    outputs = network(graph).registered_outputs
    [vpc] = of(graph, "aws:ec2/vpc:Vpc")
    assert outputs["vpc_id"] == vpc.id
    assert outputs["private_subnet_ids"] == [s.id for s in of(graph, SUBNET, "private-")]
    assert outputs["public_subnet_ids"] == [s.id for s in of(graph, SUBNET, "public-")]
    user = graph.named("user")
    routes = of(graph, ASSOCIATION, "private-")
    assert routes and all(r.urn in user.dependencies for r in routes)


def test_an_existing_vpc_gets_only_tags_on_its_private_subnets():
    graph = build_network(EXISTING)
    comp = network(graph)
    assert {r.type for r in children(graph, comp)} == {TAG}
    tags = {(t.inputs["resourceId"], t.inputs["key"], t.inputs["value"]) for t in of(graph, TAG)}
    assert tags == {(sid, key, value) for sid in EXISTING.private_subnet_ids
                    for key, value in ((CLUSTER_TAG, "shared"), POD_SUBNET_TAG)}
    assert comp.registered_outputs == {"vpc_id": EXISTING.vpc_id,
                                       "private_subnet_ids": list(EXISTING.private_subnet_ids),
                                       "public_subnet_ids": list(EXISTING.public_subnet_ids)}
    assert graph.named("user").inputs["resourceId"] == EXISTING.private_subnet_ids[0]
