"""Config validation as a pure function: no mocks, no Pulumi runtime."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cilium_eks.config import CONFIG_KEYS_BY_NAME, DEFAULT_NODE_GROUPS, ConfigError, parse_config
from cilium_eks.network import default_subnet_cidrs
from tooling.stackfiles import project_name, stack_config, stack_files

PROJECT = "cilium-eks"


def parse(**keys: Any):
    raw: dict[str, Any] = {"publicAccessCidrs": ["198.51.100.0/24"]}
    raw.update(keys)
    return parse_config(raw, project=PROJECT, stack="dev", region="eu-west-1")


def problems(**keys: Any) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse(**keys)
    return [str(p) for p in exc.value.problems]


def test_defaults_give_a_valid_small_cluster():
    cfg = parse()
    assert cfg.cluster_name == "cilium-eks-dev"
    assert cfg.network.availability_zone_count == 2
    assert len(cfg.network.private_subnet_cidrs) == 2
    assert cfg.aws_node_mode == "patch"
    assert cfg.cilium_version == "1.20.0"
    assert [g.name for g in cfg.node_groups] == list(DEFAULT_NODE_GROUPS)
    assert cfg.hubble_ui_access == "port-forward"


def test_values_arrive_as_strings_from_the_pulumi_cli():
    # The language host hands every value over as a string (JSON for arrays and maps).
    cfg = parse(availabilityZoneCount="3", endpointPrivateAccess="false", endpointPublicAccess="true",
                publicAccessCidrs='["203.0.113.0/24"]',
                nodeGroups='{"a": {"minSize": 1, "desiredSize": 1, "maxSize": 2}}')
    assert cfg.network.availability_zone_count == 3
    assert cfg.cluster.endpoint_private_access is False
    assert cfg.cluster.public_access_cidrs == ("203.0.113.0/24",)
    assert cfg.node_groups[0].name == "a" and cfg.node_groups[0].max_size == 2


@pytest.mark.parametrize(
    ("keys", "key", "fragment"),
    [
        ({"vpcCidr": "10.0.0.0/33"}, "vpcCidr", "not an IPv4 network"),
        ({"vpcCidr": "10.0.0.1/16"}, "vpcCidr", "not an IPv4 network"),
        ({"vpcCidr": "8.8.0.0/16"}, "vpcCidr", "not a private"),
        ({"vpcCidr": "10.0.0.0/8"}, "vpcCidr", "/16 to /24"),
        ({"privateSubnetCidrs": ["10.0.0.0/18", "10.0.32.0/19"]}, "privateSubnetCidrs", "overlaps"),
        ({"privateSubnetCidrs": ["10.0.0.0/18", "10.1.0.0/18"]}, "privateSubnetCidrs", "does not fit inside"),
        ({"privateSubnetCidrs": ["10.0.0.0/18"]}, "privateSubnetCidrs", "1 CIDRs for 2 availability zones"),
        ({"publicSubnetCidrs": ["10.0.0.0/24", "10.0.192.0/24"]}, "publicSubnetCidrs", "overlaps"),
        ({"availabilityZoneCount": 1}, "availabilityZoneCount", "at least 2"),
        ({"availabilityZoneCount": "two"}, "availabilityZoneCount", "expected an integer"),
        ({"natGateways": "many"}, "natGateways", "not one of"),
        ({"awsNodeMode": "remove"}, "awsNodeMode", "not one of patch, delete"),
        ({"ciliumVersion": "1.15.7"}, "ciliumVersion", "older than 1.16.0"),
        ({"ciliumVersion": "1.20"}, "ciliumVersion", "not an exact x.y.z"),
        ({"ciliumVersion": "v1.20.0"}, "ciliumVersion", "not an exact x.y.z"),
        ({"ciliumVersion": "1.21.0"}, "ciliumVersion", "newer than the newest chart"),
        ({"kubernetesVersion": "1.29"}, "kubernetesVersion", "not one of"),
        ({"ciliumExtraValues": {"tunnel": "disabled"}}, "ciliumExtraValues.tunnel", "removed in Cilium 1.15"),
        ({"ciliumExtraValues": {"egressMasqueradeInterfaces": "eth0"}},
         "ciliumExtraValues.egressMasqueradeInterfaces", "ens5"),
        ({"ciliumExtraValues": {"ipam": {"mode": "cluster-pool"}}}, "ciliumExtraValues.ipam.mode",
         "set by the program"),
        ({"ciliumExtraValues": {"kubeProxyReplacement": "strict"}}, "ciliumExtraValues.kubeProxyReplacement",
         "removed in Cilium 1.15"),
        ({"ciliumExtraValues": "tunnel=disabled"}, "ciliumExtraValues", "expected a map"),
        ({"nodeGroups": {"a": {"minSize": 3, "desiredSize": 2, "maxSize": 4}}}, "nodeGroups.a.desiredSize",
         "min 3 <= desired 2 <= max 4"),
        ({"nodeGroups": {"a": {"minSize": 1, "desiredSize": 5, "maxSize": 4}}}, "nodeGroups.a.desiredSize",
         "does not hold"),
        ({"nodeGroups": {"a": {"capacityType": "RESERVED"}}}, "nodeGroups.a.capacityType", "not ON_DEMAND or SPOT"),
        ({"nodeGroups": {"a": {"instanceTypes": ["large"]}}}, "nodeGroups.a.instanceTypes", "not an EC2 instance"),
        ({"nodeGroups": {"a": {"maxsize": 3}}}, "nodeGroups.a.maxsize", "did you mean `maxSize`"),
        ({"nodeGroups": {"Big_Group": {}}}, "nodeGroups.Big_Group", "lower-case"),
        ({"nodeGroups": {}}, "nodeGroups", "no node group"),
        ({"nodeGroups": {"a": {"labels": {"bad key!": "x"}}}}, "nodeGroups.a.labels", "not a valid Kubernetes label"),
        ({"publicAccessCidrs": []}, "publicAccessCidrs", "reads as 0.0.0.0/0"),
        ({"publicAccessCidrs": ["203.0.113.7/24"]}, "publicAccessCidrs", "host bits"),
        ({"environment": "production", "publicAccessCidrs": ["0.0.0.0/0"]}, "publicAccessCidrs",
         "whole internet in a production stack"),
        ({"endpointPublicAccess": False, "endpointPrivateAccess": False}, "endpointPrivateAccess",
         "both API endpoints are off"),
        ({"clusterLogTypes": ["api", "kubelet"]}, "clusterLogTypes", "'kubelet' is not a control-plane log type"),
        ({"clusterAdminArns": ["alice"]}, "clusterAdminArns", "not an IAM role or user ARN"),
        ({"hubbleUiAccess": "public-load-balancer"}, "hubbleUiAccess", "not one of"),
        ({"demoPolicy": "l4"}, "demoPolicy", "not one of none, l3l4, l7"),
        ({"ciliumVerison": "1.20.0"}, "ciliumVerison", "did you mean `ciliumVersion`"),
        ({"existingVpcId": "vpc-0123456789abcdef0", "existingPrivateSubnetIds": ["subnet-0123456789abcdef0"]},
         "existingPrivateSubnetIds", "at least 2 AZs"),
        ({"existingPrivateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]},
         "existingPrivateSubnetIds", "without existingVpcId"),
        ({"existingVpcId": "my-vpc", "existingPrivateSubnetIds": ["subnet-0123456789abcdef0", "sub-2"]},
         "existingVpcId", "not a VPC id"),
    ],
)
def test_each_bad_input_names_its_key_the_problem_and_a_fix(keys, key, fragment):
    found = problems(**keys)
    matching = [p for p in found if p.startswith(f"{PROJECT}:{key}:") and fragment in p]
    assert matching, f"no problem for {key} containing {fragment!r} in {found}"
    assert all(". Fix: " in p for p in found)


def test_all_problems_are_reported_together_in_one_error():
    with pytest.raises(ConfigError) as exc:
        parse(vpcCidr="10.0.0.0/33", awsNodeMode="remove", ciliumVersion="1.14.0",
              nodeGroups={"a": {"minSize": 3, "desiredSize": 1, "maxSize": 2}},
              ciliumExtraValues={"tunnel": "disabled"})
    keys = {p.key for p in exc.value.problems}
    assert {f"{PROJECT}:vpcCidr", f"{PROJECT}:awsNodeMode", f"{PROJECT}:ciliumVersion",
            f"{PROJECT}:nodeGroups.a.desiredSize", f"{PROJECT}:ciliumExtraValues.tunnel"} <= keys
    message = str(exc.value)
    assert message.startswith("stack 'dev' has ")
    assert "nothing was created" in message
    assert message.count("\n  - ") == len(exc.value.problems)


def test_missing_region_is_reported_with_the_provider_key():
    with pytest.raises(ConfigError) as exc:
        parse_config({"publicAccessCidrs": ["198.51.100.0/24"]}, project=PROJECT, stack="dev", region=None)
    assert [p.key for p in exc.value.problems] == ["aws:region"]


def test_a_stack_name_that_cannot_be_a_cilium_cluster_name_is_refused():
    with pytest.raises(ConfigError) as exc:
        parse_config({"publicAccessCidrs": ["198.51.100.0/24"]}, project=PROJECT,
                     stack="Feature_Branch_With_A_Long_Name", region="eu-west-1")
    assert "at most 32 lower-case" in str(exc.value)


def test_other_namespaces_are_left_to_their_providers():
    cfg = parse_config({"aws:region": "eu-west-1", "aws:profile": "x", f"{PROJECT}:publicAccessCidrs":
                        ["198.51.100.0/24"]}, project=PROJECT, stack="dev", region="eu-west-1")
    assert cfg.region == "eu-west-1"


def test_private_api_only_needs_no_public_cidrs():
    cfg = parse(endpointPublicAccess=False, publicAccessCidrs=[])
    assert cfg.cluster.endpoint_public_access is False


def test_extra_values_that_do_not_collide_are_kept():
    cfg = parse(ciliumExtraValues={"bpf": {"monitorAggregation": "medium"}})
    assert cfg.cilium.extra_values == {"bpf": {"monitorAggregation": "medium"}}


@given(prefix=st.integers(min_value=16, max_value=24), azs=st.integers(min_value=2, max_value=6),
       second=st.integers(min_value=0, max_value=255))
def test_derived_subnets_fit_the_vpc_and_never_overlap(prefix, azs, second):
    vpc = ipaddress.ip_network(f"10.{second}.0.0/{prefix}", strict=False)
    try:
        private, public = default_subnet_cidrs(str(vpc), azs)
    except ValueError:
        # Only when the public block cannot give every AZ a /28; then the config says so.
        assert vpc.prefixlen + (3 if azs > 3 else 2) + (azs - 1).bit_length() > 28
        with pytest.raises(ConfigError, match="too small"):
            parse(vpcCidr=str(vpc), availabilityZoneCount=azs)
        return
    nets = [ipaddress.ip_network(c) for c in private + public]
    assert len(private) == len(public) == azs
    assert all(n.subnet_of(vpc) and n.prefixlen <= 28 for n in nets)  # type: ignore[arg-type]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    # Pods take VPC IPs in ENI mode: private subnets get the bulk of the space.
    assert min(n.num_addresses for n in nets[:azs]) > max(n.num_addresses for n in nets[azs:])


def test_every_committed_stack_file_is_valid_and_uses_only_known_keys():
    stacks = stack_files()
    assert {"dev", "prod"} <= set(stacks)
    for stack in stacks:
        raw = stack_config(stack)
        cfg = parse_config(raw, project=project_name(), stack=stack, region=raw.get("aws:region"))
        assert cfg.stack == stack


def test_dev_is_small_and_prod_is_highly_available():
    dev = parse_config(stack_config("dev"), project=PROJECT, stack="dev", region="eu-west-1")
    prod = parse_config(stack_config("prod"), project=PROJECT, stack="prod", region="eu-west-1")
    assert dev.network.availability_zone_count == 2 and dev.network.nat_gateways == "single"
    assert prod.network.availability_zone_count == 3 and prod.network.nat_gateways == "one-per-az"
    assert prod.is_production and prod.cluster.endpoint_private_access
    assert not any(c.endswith("/0") for c in prod.cluster.public_access_cidrs)
    assert prod.total_min_nodes > dev.total_min_nodes
    assert not prod.demo_enabled and dev.demo_enabled


def test_choices_of_string_keys_include_their_default():
    for key in CONFIG_KEYS_BY_NAME.values():
        if key.choices:
            assert key.default in key.choices, key.name
