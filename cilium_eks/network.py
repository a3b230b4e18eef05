"""The VPC: create one (``NewVpc``) or adopt one (``ExistingVpc``), and how it is carved."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

#: ``single``: one shared NAT gateway (cheap; its AZ is a single point of failure).
#: ``one-per-az``: a NAT gateway per AZ (highly available).
NatGateways = Literal["single", "one-per-az"]
NAT_GATEWAY_MODES: tuple[str, ...] = get_args(NatGateways)

#: Subnets Cilium may put pod ENIs in carry this tag; the Cilium values filter on it, so
#: pods can never land in a public subnet.
POD_SUBNET_TAG = ("cilium.io/pod-eni-subnet", "true")


@dataclass(frozen=True)
class NewVpc:
    """A VPC this program creates: per AZ a public and a private subnet, an internet
    gateway, NAT gateways. The subnet CIDR lists hold one CIDR per AZ, in AZ order."""

    cidr: str
    availability_zone_count: int
    nat_gateways: NatGateways
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class ExistingVpc:
    """A VPC someone else owns: nothing is created in it but tags on its private subnets."""

    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    public_subnet_ids: tuple[str, ...] = ()


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


def internal_source_ranges(cidrs: Sequence[str], what: str) -> list[str]:
    """The ``loadBalancerSourceRanges`` of an internal-only load balancer (the Hubble UI's, Grafana's):
    never empty (an unset list restricts nothing: the field "will restrict traffic ... to the specified
    client IPs" only "if specified", Kubernetes ServiceSpec) and never a ``/0``. Raises ``ValueError``
    naming ``what`` otherwise."""
    if not cidrs or any(c.endswith("/0") for c in cidrs):
        raise ValueError(f"an internal {what} load balancer needs allowed_cidrs narrower than /0, got {list(cidrs)}")
    return list(cidrs)
