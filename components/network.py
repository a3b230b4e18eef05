"""Network: the VPC the cluster, its nodes and (in ENI mode) every pod live in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from cilium_eks.config import ConfigError, Problem
from cilium_eks.config.deploytime import subnet_zone_problems, zone_count_problems
from cilium_eks.karpenter import DISCOVERY_TAG
from cilium_eks.network import POD_SUBNET_TAG, ExistingVpc, NewVpc

TYPE_TOKEN = "cilium-eks:components:Network"

#: Where Kubernetes puts internal load balancers (the AWS cloud controller and the AWS Load
#: Balancer Controller both select subnets by it).
INTERNAL_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of :class:`Network`.

    ``vpc`` decides between two modes: create a VPC (``NewVpc``: public and private subnets
    per AZ from its CIDRs, an internet gateway, NAT gateways shared or per AZ) or adopt one
    (``ExistingVpc``: nothing but tags on its private subnets is created). ``cluster_name``
    goes into the EKS subnet tags, so it must be the final cluster name. ``tags`` (default
    none) go on everything created. ``karpenter_discovery`` (default False) adds Karpenter's
    ``karpenter.sh/discovery=<cluster_name>`` tag to the private subnets, its EC2NodeClasses' selector.

    Before it declares anything in the VPC, the component asks the provider what the offline
    validator cannot know, and raises ``ConfigError`` (naming the stack's config key) when the
    answer refutes ``vpc``: a new VPC's ``availability_zone_count`` above the zones the region offers
    the account, an adopted VPC's private subnets in fewer than two zones.
    """

    name_prefix: str
    cluster_name: str
    vpc: NewVpc | ExistingVpc
    tags: Mapping[str, str] = field(default_factory=dict)
    karpenter_discovery: bool = False


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    #: The private subnet ids once their default route through NAT exists: what nodes take.
    routed_private_subnet_ids: pulumi.Output[list[str]]
    #: The VPC's IPv4 CIDR blocks (an adopted VPC's, read from EC2).
    vpc_cidrs: pulumi.Output[list[str]]
    #: The subnets this component created (none for an adopted VPC).
    subnets: list[pulumi.Resource]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        # Cilium only places pod ENIs in subnets with this tag (eni.subnetTagsFilter), so
        # pods can never land in a public subnet.
        pod_tag = {POD_SUBNET_TAG[0]: POD_SUBNET_TAG[1]}
        # Karpenter launches nodes only into subnets with this tag: the private ones, as the node groups.
        discovery_tag = {DISCOVERY_TAG: args.cluster_name} if args.karpenter_discovery else {}

        self.subnets = []
        if isinstance(args.vpc, ExistingVpc):
            self._adopt(name, args.vpc, {"cluster": cluster_tag, "pod-eni": pod_tag, "internal-elb": INTERNAL_ELB_TAG,
                                         **({"karpenter": discovery_tag} if discovery_tag else {})}, child)
        else:
            self._create(name, args.vpc, args, cluster_tag, {**pod_tag, **discovery_tag}, child)
        self.register_outputs({"vpc_id": self.vpc_id, "vpc_cidrs": self.vpc_cidrs,
                               "private_subnet_ids": self.private_subnet_ids,
                               "routed_private_subnet_ids": self.routed_private_subnet_ids,
                               "public_subnet_ids": self.public_subnet_ids})

    def _adopt(self, name: str, vpc: ExistingVpc, tag_sets: Mapping[str, Mapping[str, str]],
               child: pulumi.ResourceOptions) -> None:
        self.vpc_id = pulumi.Output.from_input(vpc.vpc_id)
        self.private_subnet_ids = pulumi.Output.from_input(list(vpc.private_subnet_ids))
        # Someone else's subnets: whether they route through NAT is theirs to ensure.
        self.routed_private_subnet_ids = self.private_subnet_ids
        self.public_subnet_ids = pulumi.Output.from_input(list(vpc.public_subnet_ids))
        # Only EC2 knows where someone else's subnets are: EKS needs them in two zones or more. Asked
        # before anything is tagged, so a wrong list fails the deployment having changed nothing.
        subnet_zones = {sid: aws.ec2.get_subnet(id=sid, opts=pulumi.InvokeOptions(parent=self)).availability_zone
                        for sid in vpc.private_subnet_ids}
        _refuse(subnet_zone_problems(pulumi.get_project(), "existingPrivateSubnetIds", subnet_zones))
        described = aws.ec2.get_vpc_output(id=vpc.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
        # Every IPv4 block of the VPC (a VPC may have secondary CIDRs: pods can live there).
        self.vpc_cidrs = described.cidr_block_associations.apply(
            lambda blocks: sorted(b.cidr_block for b in blocks if b.cidr_block))
        # Adopted subnets keep their own tags; only those this cluster needs are added: EKS's,
        # Cilium's pod-ENI filter, and internal load balancers (the Hubble UI's NLB).
        for i, subnet_id in enumerate(vpc.private_subnet_ids):
            for label, tag in tag_sets.items():
                for key, value in tag.items():
                    aws.ec2.Tag(f"{name}-private-{i}-{label}-tag", resource_id=subnet_id, key=key, value=value,
                                opts=child)

    def _create(self, name: str, net: NewVpc, args: NetworkArgs, cluster_tag: Mapping[str, str],
                pod_tag: Mapping[str, str], child: pulumi.ResourceOptions) -> None:
        tags = dict(args.tags)
        # The region's standard zones, Local Zones left out (pulumi_aws 7.51.1 get_availability_zones.py
        # L195-203, "Only Availability Zones (no Local Zones)"): these subnets are the cluster's, and "you must
        # not specify Local Zone subnets when you create your cluster" (EKS user guide,
        # integrations/local-zones.adoc L17). Asked before the VPC is declared: a count the region cannot
        # meet fails here, not after the VPC exists.
        azs = aws.get_availability_zones(state="available",
                                         filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
                                         opts=pulumi.InvokeOptions(parent=self))
        _refuse(zone_count_problems(pulumi.get_project(), str(azs.id), net.availability_zone_count, list(azs.names)))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=net.cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and node registration need DNS
            enable_dns_support=True,
            tags={**tags, "Name": f"{args.name_prefix}-vpc"},
            opts=child,
        )
        # The default security group allows all traffic between its members; strip it
        # so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id,
                                     tags={**tags, "Name": f"{args.name_prefix}-default-deny"}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id,
                                      tags={**tags, "Name": f"{args.name_prefix}-igw"}, opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={**tags, "Name": f"{args.name_prefix}-public"}, opts=child)

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for i in range(net.availability_zone_count):
            az = azs.names[i]
            public = aws.ec2.Subnet(
                f"{name}-public-{i}", vpc_id=vpc.id, cidr_block=net.public_subnet_cidrs[i], availability_zone=az,
                # Nothing launched here gets a public IP unless it asks: only load balancers and NAT live here.
                map_public_ip_on_launch=False,
                tags={**tags, **cluster_tag, "kubernetes.io/role/elb": "1",
                      "Name": f"{args.name_prefix}-public-{i}"},
                opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}-rta", subnet_id=public.id,
                                          route_table_id=public_rt.id, opts=child)
            public_subnets.append(public)
            private = aws.ec2.Subnet(
                f"{name}-private-{i}", vpc_id=vpc.id, cidr_block=net.private_subnet_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**tags, **cluster_tag, **pod_tag, **INTERNAL_ELB_TAG,
                      "Name": f"{args.name_prefix}-private-{i}"},
                opts=child)
            private_subnets.append(private)

        nat_count = net.availability_zone_count if net.nat_gateways == "one-per-az" else 1
        nats: list[aws.ec2.NatGateway] = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc",
                              tags={**tags, "Name": f"{args.name_prefix}-nat-{i}"}, opts=child)
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{i}", allocation_id=eip.id, subnet_id=public_subnets[i].id,
                tags={**tags, "Name": f"{args.name_prefix}-nat-{i}"},
                # The gateway needs the internet gateway attached to route anything.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw])))

        private_routes: list[aws.ec2.RouteTableAssociation] = []
        for i, private in enumerate(private_subnets):
            nat = nats[i if nat_count > 1 else 0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt", vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={**tags, "Name": f"{args.name_prefix}-private-{i}"}, opts=child)
            private_routes.append(aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=private.id, route_table_id=rt.id, opts=child))

        self.vpc_id = vpc.id
        self.vpc_cidrs = pulumi.Output.from_input([net.cidr])
        self.subnets = [*private_subnets, *public_subnets]
        # The control plane only needs the subnets to exist (its ENIs never leave the VPC), so it
        # does not wait ~2 min for the NAT gateways. Nodes must reach ECR and the EKS API as they
        # boot: their ids carry the route associations as dependencies.
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets]).apply(list)
        count = len(private_subnets)
        self.routed_private_subnet_ids = pulumi.Output.all(
            *[s.id for s in private_subnets], *[r.id for r in private_routes]).apply(lambda ids: list(ids[:count]))
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets]).apply(list)


def _refuse(problems: list[Problem]) -> None:
    """Stop the deployment with the validator's kind of message when the provider's answers refute the
    configuration (``cilium_eks.config.deploytime``)."""
    if problems:
        raise ConfigError(pulumi.get_stack(), problems, consequence="nothing in the VPC was created or changed")
