"""Configuration only the provider can judge: what the region offers, where adopted subnets are.

The offline validator cannot know how many availability zones a region gives this account, nor
in which zone a subnet someone else created lives; the Network component asks the provider
(``aws.get_availability_zones``, ``aws.ec2.get_subnet``) before it declares anything in the VPC and
turns the answers into problems with these functions, so a deployment fails with the same kind of
message as the validator's (key, what is wrong, how to fix it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .problems import Problem

#: EKS: "When you create a cluster, you specify a VPC and at least two subnets that are in different
#: Availability Zones"; "The subnets must be in at least two different Availability Zones" (EKS user
#: guide, networking/network-reqs.adoc L20, L78).
MIN_SUBNET_ZONES = 2


def zone_count_problems(project: str, region: str, requested: int, zones: Sequence[str]) -> list[Problem]:
    """``availabilityZoneCount`` against the standard zones the region offers this account."""
    if requested <= len(zones):
        return []
    return [Problem(
        f"{project}:availabilityZoneCount",
        f"{requested} availability zones asked for, but {region} offers this account {len(zones)} "
        f"({', '.join(zones) or 'none'})",
        f"set availabilityZoneCount to {max(MIN_SUBNET_ZONES, min(len(zones), requested))} or less, or deploy to a "
        "region with more zones")]


def subnet_zone_problems(project: str, key: str, subnet_zones: Mapping[str, str]) -> list[Problem]:
    """Adopted private subnets (``key``, e.g. ``existingPrivateSubnetIds``) must span two zones."""
    zones = sorted(set(subnet_zones.values()))
    if len(zones) >= MIN_SUBNET_ZONES:
        return []
    where = ", ".join(f"{sid} in {az}" for sid, az in subnet_zones.items())
    return [Problem(
        f"{project}:{key}",
        f"the subnets span {len(zones)} availability zone(s) ({where}); EKS needs subnets in at least "
        f"{MIN_SUBNET_ZONES} different zones",
        "add a private subnet of another availability zone of the VPC")]
