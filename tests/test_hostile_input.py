"""Hostile and careless input: every class of bad configuration is refused before anything is declared
(severity error, the key named, the fix given, exit 2 from the plan), with several bad values per class,
while the valid variants next to them still pass. Also: stack files read exactly as Pulumi reads them,
deploy-time checks through the provider, and secrets that stay secret end to end.

docs/validation.md lists these classes (generated from tooling/validation_catalog.py); each row names
the test here that proves it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cilium_eks.config import ConfigError, StackConfig, parse_config
from cilium_eks.config.deploytime import subnet_zone_problems, zone_count_problems
from cilium_eks.config.read import read_stack_config
from cilium_eks.config.validate import (
    NODE_GROUP_NAME_PREFIX_MAX,
    NODES_PER_MANAGED_NODE_GROUP,
    PUBLIC_ACCESS_CIDRS_PER_CLUSTER,
    node_group_name_prefix,
)
from cilium_eks.known_bad import KNOWN_BAD
from tests.conftest import committed_graph
from tooling import validation_catalog
from tooling.chart_check import UNAVAILABLE, cilium_chart_check
from tooling.cli.__main__ import main as cli_main
from tooling.mockengine import Graph, Secret, run, run_program
from tooling.mockengine.monitor import RecordingMonitor
from tooling.mockengine.wire import decode_struct
from tooling.paths import PROJECT_DIR
from tooling.plan.__main__ import main as plan_main
from tooling.stackfiles import (
    Encrypted,
    StackFileError,
    config_text,
    load_yaml,
    read_stack_file,
    resolve_plain,
    stack_program_config,
)

PROJECT = "cilium-eks"
#: A valid base: public API admitted from one documentation block (a development stack, so the
#: production-only rules stay out of the way unless a case sets environment).
BASE: dict[str, Any] = {"environment": "development", "publicAccessCidrs": ["198.51.100.0/24"]}


def parse(stack: str = "dev", **keys: Any) -> StackConfig:
    return parse_config({**BASE, **keys}, project=PROJECT, stack=stack, region="eu-west-1")


def refused(key: str, fragment: str, *, stack: str = "dev", **keys: Any) -> str:
    """The one refusal of ``key`` containing ``fragment``: an error, with a fix."""
    with pytest.raises(ConfigError) as exc:
        parse(stack, **keys)
    found = [p for p in exc.value.problems if p.key == f"{PROJECT}:{key}" and fragment in str(p)]
    assert found, f"no problem for {key} containing {fragment!r}: {[str(p) for p in exc.value.problems]}"
    assert all(p.severity == "error" and p.fix for p in found)
    assert "nothing was created" in str(exc.value)
    return str(found[0])


def plan_refuses(capsys: pytest.CaptureFixture[str], key: str, *sets: str) -> str:
    """`python -m tooling.plan --stack dev --set ...` exits 2 and names the key."""
    argv = ["--stack", "dev"]
    for item in sets:
        argv += ["--set", item]
    code = plan_main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{PROJECT}:{key}" in err and "Fix:" in err, err
    return err


def declares_nothing(**overrides: Any) -> ConfigError:
    """The program under the mock engine raises before it registers a single resource."""
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ConfigError) as exc:
        run_program("dev", overrides=overrides, on_monitor=monitors.append)
    assert monitors[0].recorded == {}, f"declared before refusing: {list(monitors[0].recorded)}"
    return exc.value


# --------------------------------------------------------------------------------------
# CIDRs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("publicAccessCidrs", ["203.0.113.7"]),
    ("publicAccessCidrs", ["198.51.100.0/24", "198.51.100.9"]),
    ("vpcCidr", "10.0.0.0"),
    ("privateSubnetCidrs", ["10.0.0.0", "10.0.64.0/18"]),
])
def test_a_cidr_needs_its_prefix_length(key: str, value: Any):
    refused(key, "has no prefix length", **{key: value})


def test_valid_cidrs_with_their_prefix_pass():
    cfg = parse(publicAccessCidrs=["203.0.113.7/32", "8.8.8.0/24"], vpcCidr="10.1.0.0/16")
    assert cfg.cluster.public_access_cidrs == ("203.0.113.7/32", "8.8.8.0/24")


@pytest.mark.parametrize(("cidrs", "fragment"), [
    (["10.0.0.0/8"], "lies in 10.0.0.0/8"),
    (["172.16.5.0/24"], "lies in 172.16.0.0/12"),
    (["192.168.1.7/32"], "lies in 192.168.0.0/16"),
    (["100.64.0.0/10"], "lies in 100.64.0.0/10"),
    ([f"8.8.{i}.0/24" for i in range(PUBLIC_ACCESS_CIDRS_PER_CLUSTER + 1)], "at most 40"),
    (["8.8.8.0/24", "8.8.8.0/24"], "listed 2 times"),
])
def test_public_access_cidrs_refuse_private_space_and_the_eks_limit(cidrs: list[str], fragment: str):
    refused("publicAccessCidrs", fragment, publicAccessCidrs=cidrs)


def test_forty_public_blocks_and_a_block_around_private_space_pass():
    assert len(parse(publicAccessCidrs=[f"8.8.{i}.0/24" for i in range(40)]).cluster.public_access_cidrs) == 40
    # A public block that merely borders private space is public.
    parse(publicAccessCidrs=["11.0.0.0/8", "172.32.0.0/16"])


@pytest.mark.parametrize("cidrs", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"],
                                   ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"]])
def test_the_whole_internet_is_refused_in_a_strict_stack_in_any_spelling(cidrs: list[str]):
    refused("publicAccessCidrs", "whole internet", environment="production", publicAccessCidrs=cidrs)
    # Half of it is not the whole: still allowed (it is the user's call), and development allows all.
    parse(environment="production", publicAccessCidrs=["0.0.0.0/1"])
    parse(environment="development", publicAccessCidrs=cidrs)


def test_the_plan_refuses_a_bare_ip_and_declares_nothing(capsys: pytest.CaptureFixture[str]):
    plan_refuses(capsys, "publicAccessCidrs", "publicAccessCidrs=[203.0.113.7]")
    plan_refuses(capsys, "publicAccessCidrs", "publicAccessCidrs=[10.0.0.0/8]")
    declares_nothing(publicAccessCidrs=["203.0.113.7"])


# --------------------------------------------------------------------------------------
# Node groups: name prefix, sizes, labels
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "group"), [
    ("staging", "general-purpose-x86"),  # the issue's case: 39 characters
    ("staging", "compute-optimized1"),  # 38: one over
    ("preproduction-eu-w", "workers"),  # a long stack name (38) with a short group
])
def test_a_node_group_name_prefix_longer_than_eks_allows_is_refused(stack: str, group: str):
    problem = refused(f"nodeGroups.{group}", f"may have {NODE_GROUP_NAME_PREFIX_MAX}", stack=stack,
                      nodeGroups={group: {}})
    assert node_group_name_prefix(PROJECT, stack, group) in problem


@pytest.mark.parametrize(("stack", "group"), [("staging", "compute-optimized"), ("dev", "abcdefghijklmnopqrst")])
def test_a_node_group_name_prefix_of_37_characters_or_fewer_passes(stack: str, group: str):
    assert len(node_group_name_prefix(PROJECT, stack, group)) <= NODE_GROUP_NAME_PREFIX_MAX
    assert parse(stack, nodeGroups={group: {}}).node_groups[0].name == group


def test_the_checked_prefix_is_the_one_the_program_hands_pulumi_eks():
    graph = committed_graph("prod")
    prefixes = sorted(r.inputs["nodeGroupNamePrefix"] for r in graph.of_type("eks:index:ManagedNodeGroup"))
    assert prefixes == sorted(node_group_name_prefix(PROJECT, "prod", g) for g in ("general", "system"))


@pytest.mark.parametrize(("group", "key", "fragment"), [
    ({"maxSize": 100000}, "maxSize", "EKS allows 450"),
    ({"maxSize": NODES_PER_MANAGED_NODE_GROUP + 1}, "maxSize", "EKS allows 450"),
    ({"minSize": -1, "desiredSize": 0, "maxSize": 2}, "maxSize", "must be >= 0"),
    ({"minSize": 0, "desiredSize": -2, "maxSize": 2}, "maxSize", "must be >= 0"),
    ({"minSize": 0, "desiredSize": 0, "maxSize": 0}, "maxSize", "max >= 1"),
    ({"minSize": 3, "desiredSize": 5, "maxSize": 4}, "desiredSize", "does not hold"),
])
def test_node_group_sizes_are_held_to_the_eks_quota_and_order(group: dict[str, int], key: str, fragment: str):
    refused(f"nodeGroups.a.{key}", fragment, nodeGroups={"a": group})


def test_valid_sizes_up_to_the_quota_pass_and_too_many_groups_do_not():
    group = parse(nodeGroups={"a": {"minSize": 1, "desiredSize": 1, "maxSize": 450}}).node_groups[0]
    assert group.max_size == NODES_PER_MANAGED_NODE_GROUP
    small = {"minSize": 1, "desiredSize": 1, "maxSize": 1}
    refused("nodeGroups", "30 managed node groups", nodeGroups={f"g{i}": small for i in range(31)},
            vpcCidr="10.0.0.0/16")


@pytest.mark.parametrize(("labels", "fragment"), [
    ({"team": ""}, "empty value"),
    ({"a" * 64: "x"}, "64 characters"),
    ({"example.com/" + "a" * 52: "x"}, "prefix included"),
    ({"node-role.kubernetes.io/worker": "true"}, "under kubernetes.io/"),
    ({"kubernetes.io/hostname": "x"}, "under kubernetes.io/"),
    ({"topology.kubernetes.io/zone": "eu-west-1a"}, "under kubernetes.io/"),
    ({"k8s.io/role": "x"}, "under k8s.io/"),
    ({"eks.amazonaws.com/nodegroup": "x"}, "under eks.amazonaws.com/"),
    ({"team": "x" * 64}, "not a valid label value"),
    ({"Example.COM/team": "x"}, "not a valid Kubernetes label key"),
    ({"bad key!": "x"}, "not a valid Kubernetes label key"),
    ({"on-call": True}, "must be text"),
])
def test_node_labels_eks_or_kubelet_refuse_are_refused(labels: dict[str, Any], fragment: str):
    refused("nodeGroups.a.labels", fragment, nodeGroups={"a": {"labels": labels}})


def test_valid_labels_pass():
    labels = {"team": "platform", "example.com/tier": "gold", "a" * 63: "b", "zone-pinned": "false"}
    assert dict(parse(nodeGroups={"a": {"labels": labels}}).node_groups[0].labels) == labels


def test_the_plan_refuses_bad_node_groups_and_declares_nothing(capsys: pytest.CaptureFixture[str]):
    plan_refuses(capsys, "nodeGroups.general.maxSize", "nodeGroups={general: {maxSize: 100000}}")
    plan_refuses(capsys, "nodeGroups.general.labels",
                 'nodeGroups={general: {labels: {"node-role.kubernetes.io/worker": "x"}}}')
    declares_nothing(nodeGroups={"general": {"labels": {"team": ""}}})


# --------------------------------------------------------------------------------------
# clusterAdminArns
# --------------------------------------------------------------------------------------

ACCOUNT = "123456789012"


@pytest.mark.parametrize(("arns", "fragment"), [
    ([f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice@example.com"], "STS session of the role Admin"),
    ([f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123/alice"], "STS session"),
    ([f"arn:aws:iam::{ACCOUNT}:role/ci", f"arn:aws:iam::{ACCOUNT}:role/ci"], "is listed twice"),
    ([f"arn:aws:iam::{ACCOUNT}:role/ops/ci", f"arn:aws:iam::{ACCOUNT}:role/ci"], "names the same role"),
    ([f"arn:aws:iam::{ACCOUNT}:user/Alice", f"arn:aws:iam::{ACCOUNT}:user/alice"], "names the same user"),
    ([f"arn:aws:iam::{ACCOUNT}:group/admins"], "not an IAM role or user ARN"),
    (["alice"], "not an IAM role or user ARN"),
])
def test_cluster_admin_arns_need_iam_principals_once_each(arns: list[str], fragment: str):
    refused("clusterAdminArns", fragment, clusterAdminArns=arns)


def test_an_sts_session_is_answered_with_the_role_arn_to_use():
    problem = refused("clusterAdminArns", "STS session",
                      clusterAdminArns=[f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"])
    assert f"arn:aws:iam::{ACCOUNT}:role/Admin" in problem and "get-role --role-name Admin" in problem


def test_role_paths_other_accounts_and_partitions_pass():
    arns = [f"arn:aws:iam::{ACCOUNT}:role/development/apps/my-role", f"arn:aws:iam::{ACCOUNT}:role/ci",
            "arn:aws:iam::210987654321:role/ci", f"arn:aws:iam::{ACCOUNT}:user/alice",
            f"arn:aws-us-gov:iam::{ACCOUNT}:role/ops"]
    assert parse(clusterAdminArns=arns).cluster.admin_arns == tuple(arns)


@pytest.mark.parametrize(("item", "overrides", "key"), [
    (f'clusterAdminArns=["arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"]',
     {"clusterAdminArns": [f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"]}, "clusterAdminArns"),
    ("cillium-eks:environment=production", {"cillium-eks:environment": "production"}, None),
    ("nodeGroups={general: {minSize: 3, desiredSize: 5, maxSize: 4}}",
     {"nodeGroups": {"general": {"minSize": 3, "desiredSize": 5, "maxSize": 4}}}, "nodeGroups.general.desiredSize"),
    ("ciliumExtraValues={cluster: {id: 200}}", {"ciliumExtraValues": {"cluster": {"id": 200}}}, "ciliumExtraValues"),
])
def test_each_class_exits_2_from_the_plan_and_declares_nothing(capsys: pytest.CaptureFixture[str], item: str,
                                                               overrides: dict[str, Any], key: str | None):
    code = plan_main(["--stack", "dev", "--set", item])
    err = capsys.readouterr().err
    named = f"{PROJECT}:{key}" if key else "cillium-eks:environment"
    assert code == 2 and named in err and "Fix:" in err, err
    error = declares_nothing(**overrides)
    assert any(p.key == named for p in error.problems)


# --------------------------------------------------------------------------------------
# Instance types, nodes that never start, production decided safely
# --------------------------------------------------------------------------------------


def one_group(**group: Any) -> dict[str, Any]:
    return {"a": {"minSize": 1, "desiredSize": 1, "maxSize": 2, **group}}


@pytest.mark.parametrize(("types", "fragment"), [
    (["t3.huge"], "'t3.huge' is not an EC2 instance type"),
    (["m6i.mega"], "'m6i.mega' is not an EC2 instance type"),
    (["m6i.large", "m7g.large"], "mixes architectures"),
    (["c6g.xlarge", "c6i.xlarge"], "mixes architectures"),
])
def test_instance_types_that_do_not_exist_or_mix_architectures_are_refused(types: list[str], fragment: str):
    refused("nodeGroups.a.instanceTypes", fragment, nodeGroups=one_group(instanceTypes=types))


@pytest.mark.parametrize("types", [["t2.large"], ["m4.xlarge"], ["m6i.large", "t2.large"]])
def test_prefix_delegation_on_a_xen_type_is_refused(types: list[str]):
    refused("nodeGroups.a.instanceTypes", "Nitro and bare-metal instances only",
            nodeGroups=one_group(instanceTypes=types), ciliumPrefixDelegation=True)


def test_existing_types_of_one_architecture_pass_and_xen_without_prefix_delegation_is_allowed():
    assert parse(nodeGroups=one_group(instanceTypes=["m7g.large", "c7g.large"])).node_groups[0].instance_types == (
        "m7g.large", "c7g.large")
    parse(nodeGroups=one_group(instanceTypes=["t2.large"]), ciliumPrefixDelegation=False)
    parse(nodeGroups=one_group(instanceTypes=["m6i.large"]), ciliumPrefixDelegation=True)


@pytest.mark.parametrize("groups", [
    {"a": {"minSize": 0, "desiredSize": 0, "maxSize": 3}},
    {"a": {"minSize": 0, "desiredSize": 0, "maxSize": 3}, "b": {"minSize": 0, "desiredSize": 0, "maxSize": 1}},
])
@pytest.mark.parametrize("demo", [True, False])
def test_a_cluster_whose_groups_never_start_a_node_is_refused(groups: dict[str, Any], demo: bool):
    message = refused("nodeGroups", "no node will run", nodeGroups=groups, demoEnabled=demo)
    assert ("the demo would wait forever" in message) is demo


def test_one_group_with_a_node_is_enough():
    parse(nodeGroups={"a": {"minSize": 0, "desiredSize": 0, "maxSize": 3},
                      "b": {"minSize": 1, "desiredSize": 1, "maxSize": 2}}, demoEnabled=True)


def strict_of(config: dict[str, Any]) -> bool:
    return parse_config(config, project=PROJECT, stack="prod", region="eu-west-1").strict


def test_production_cannot_be_weakened_by_a_missing_or_misspelled_environment():
    narrow = {"publicAccessCidrs": ["198.51.100.0/24"]}
    assert strict_of(narrow)  # no environment at all: strict
    assert strict_of({**narrow, "environment": "staging"})
    assert not strict_of({**narrow, "environment": "development"})  # the one way out, spelled exactly
    for typo in ("developement", "dev", "Development", ""):
        with pytest.raises(ConfigError) as exc:
            strict_of({**narrow, "environment": typo})
        assert any(p.key == f"{PROJECT}:environment" and p.severity == "error" for p in exc.value.problems)
    # A misspelled namespace never sets the environment: the key is refused, not ignored.
    with pytest.raises(ConfigError) as exc:
        strict_of({**narrow, "cillium-eks:environment": "development"})
    assert any(p.key == "cillium-eks:environment" for p in exc.value.problems)
    # And with the default (strict) environment, the whole internet stays refused.
    with pytest.raises(ConfigError):
        strict_of({"publicAccessCidrs": ["0.0.0.0/0"]})


# --------------------------------------------------------------------------------------
# Deploy time: what only the provider knows
# --------------------------------------------------------------------------------------

EXISTING = {"existingVpcId": "vpc-0123456789abcdef0",
            "existingPrivateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}


def _deploy(stack: str, tweak: Any, **overrides: Any) -> tuple[RecordingMonitor, Graph | ConfigError]:
    """The program for ``stack`` with the mock provider changed by ``tweak``: its graph, or its refusal."""
    monitors: list[RecordingMonitor] = []

    def setup(monitor: RecordingMonitor) -> None:
        monitors.append(monitor)
        tweak(monitor.engine_mocks)

    result: Graph | ConfigError
    try:
        result = run_program(stack, overrides=overrides, on_monitor=setup)
    except ConfigError as exc:
        result = exc
    return monitors[0], result


def test_more_zones_than_the_region_offers_fails_before_the_vpc():
    def two_zones(mocks: Any) -> None:
        mocks.zone_letters = "bc"  # us-west-1 as a new account sees it

    monitor, result = _deploy("prod", two_zones)  # prod asks for 3 zones
    assert isinstance(result, ConfigError), "a 2-zone region must refuse availabilityZoneCount 3"
    [problem] = result.problems
    assert problem.key == f"{PROJECT}:availabilityZoneCount" and "offers this account 2" in problem.what
    assert "set availabilityZoneCount to 2" in problem.fix
    assert "nothing in the VPC was created" in str(result)
    assert not [r.type for r in monitor.recorded.values() if r.type.startswith("aws:")], "nothing in the VPC"
    # The same region with two zones asked for deploys.
    _, graph = _deploy("prod", two_zones, availabilityZoneCount=2)
    assert isinstance(graph, Graph) and len(graph.of_type("aws:ec2/vpc:Vpc")) == 1


def test_adopted_subnets_in_one_zone_fail_before_anything_is_tagged():
    def same_zone(mocks: Any) -> None:
        mocks.subnet_zones.update(dict.fromkeys(EXISTING["existingPrivateSubnetIds"], "eu-west-1a"))

    monitor, result = _deploy("dev", same_zone, **EXISTING)
    assert isinstance(result, ConfigError)
    [problem] = result.problems
    assert problem.key == f"{PROJECT}:existingPrivateSubnetIds" and "span 1 availability zone" in problem.what
    assert "subnet-0aaaaaaaaaaaaaaa1 in eu-west-1a" in problem.what
    assert not [r for r in monitor.recorded.values() if r.type == "aws:ec2/tag:Tag"]
    asked = [a["id"] for t, a in monitor.engine_mocks.invokes if t == "aws:ec2/getSubnet:getSubnet"]
    assert asked == EXISTING["existingPrivateSubnetIds"]
    # In two zones (the mock places distinct ids in distinct zones), they are adopted.
    _, graph = _deploy("dev", lambda mocks: None, **EXISTING)
    assert isinstance(graph, Graph) and graph.of_type("aws:ec2/tag:Tag")


def test_the_deploy_time_rules_themselves():
    assert zone_count_problems(PROJECT, "r", 3, ["ra", "rb", "rc"]) == []
    assert zone_count_problems(PROJECT, "r", 4, ["ra", "rb", "rc"])[0].key == f"{PROJECT}:availabilityZoneCount"
    assert subnet_zone_problems(PROJECT, "k", {"s1": "a", "s2": "b"}) == []
    assert subnet_zone_problems(PROJECT, "k", {"s1": "a", "s2": "a", "s3": "a"})[0].key == f"{PROJECT}:k"


# --------------------------------------------------------------------------------------
# ciliumExtraValues: the chart, the known-bad table, owned and removed values
# --------------------------------------------------------------------------------------


@pytest.fixture
def chart_check(reference: Path) -> Any:
    check = cilium_chart_check()
    assert check is not None, "the reference fixture found data, so the hook must exist"
    return check


@pytest.mark.parametrize(("values", "key", "fragment"), [
    ({"MTU": "9001"}, "MTU", "is not of type 'integer'"),
    ({"hubble": {"exprot": {"static": {"enabled": True}}}}, "hubble.exprot", "did you mean `hubble.export`"),
    ({"bpf": {"monitorAggregaton": "medium"}}, "bpf.monitorAggregaton", "not defined by the cilium 1.20.0"),
    ({"debug": {"enabled": "yes"}}, "debug.enabled", "is not of type 'boolean'"),
    ({"enableIPv4Masquerade": "false"}, "enableIPv4Masquerade", "'false' is not of type"),
])
def test_extra_values_the_chart_refuses_are_refused(chart_check: Any, values: dict[str, Any], key: str,
                                                    fragment: str):
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "ciliumExtraValues": values}, project=PROJECT, stack="dev", region="eu-west-1",
                     chart_check=chart_check)
    found = [p for p in exc.value.problems if p.key == f"{PROJECT}:ciliumExtraValues.{key}"]
    assert found and fragment in str(found[0]) and found[0].severity == "error", \
        [str(p) for p in exc.value.problems]


def test_extra_values_the_chart_accepts_pass(chart_check: Any):
    values = {"MTU": 9001, "bpf": {"monitorAggregation": "medium"}, "debug": {"enabled": True},
              "hubble": {"export": {"static": {"enabled": True, "filePath": "/var/run/cilium/hubble/e.log"}}}}
    cfg = parse_config({**BASE, "ciliumExtraValues": values}, project=PROJECT, stack="dev", region="eu-west-1",
                       chart_check=chart_check)
    assert cfg.cilium.extra_values == values
    assert not [w for w in cfg.warnings if "chart" in w.what]


def test_a_version_without_reference_data_is_said_not_a_pass():
    def no_data(version: str, values: Any) -> None:
        return None

    cfg = parse_config({**BASE, "ciliumExtraValues": {"MTU": "9001"}}, project=PROJECT, stack="dev",
                       region="eu-west-1", chart_check=no_data)
    assert [w.severity for w in cfg.warnings if "no reference data" in w.what] == ["warning"]


def test_the_plan_refuses_values_the_chart_refuses(chart_check: Any, capsys: pytest.CaptureFixture[str]):
    plan_refuses(capsys, "ciliumExtraValues.MTU", 'ciliumExtraValues={MTU: "9001"}')


def test_the_plan_says_when_it_cannot_check_the_chart(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # Without reference data: the plan goes on, and says what to run.
    for var in ("CILIUM_EKS_REFERENCE_DIR", "CILIUM_REFERENCE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CILIUM_EKS_REFERENCE_CACHE", str(tmp_path / "empty"))
    assert plan_main(["--stack", "dev", "--set", 'ciliumExtraValues={MTU: "9001"}']) == 0
    err = capsys.readouterr().err
    assert UNAVAILABLE in err and "make reference" in err


#: For each known-bad entry: the config that hits it.
KNOWN_BAD_CASES: dict[str, dict[str, Any]] = {
    "eni-prefix-delegation-cidr-exhaustion": {"ciliumPrefixDelegation": True, "nodeGroups": {
        "a": {"instanceTypes": ["m6i.large"], "minSize": 2, "desiredSize": 2, "maxSize": 3}}},
    "eni-cluster-id-policy-drops": {"ciliumExtraValues": {"cluster": {"id": 200}}},
    "aws-cni-chaining-without-aws-node": {"ciliumExtraValues": {"cni": {"chainingMode": "aws-cni"}}},
    # (prometheus.* and operator.prometheus.* are the observability key's; Envoy's monitor is not)
    "service-monitor-without-crds": {"ciliumExtraValues": {"envoy": {"prometheus": {
        "enabled": True, "serviceMonitor": {"enabled": True}}}}},
}


@pytest.mark.parametrize("entry", KNOWN_BAD, ids=lambda e: e.id)
def test_every_known_bad_entry_is_refused_through_the_validator(entry: Any):
    assert entry.id in KNOWN_BAD_CASES, f"add a config that hits {entry.id} to KNOWN_BAD_CASES"
    keys = KNOWN_BAD_CASES[entry.id]
    refused(entry.keys[0], entry.id, environment="production", publicAccessCidrs=["8.8.8.0/24"], **keys)
    if entry.severity == "production":  # development stacks are warned, not refused
        cfg = parse(**keys)
        assert [w.severity for w in cfg.warnings if entry.id in w.what] == ["warning"]
    else:
        refused(entry.keys[0], entry.id, **keys)


@pytest.mark.parametrize("values", [{"cluster": {"id": 127}}, {"cluster": {"id": 256}},
                                    {"cluster": {"id": 200}, "extraConfig": {"allow-unsafe-policy-skb-usage": "true"}}])
def test_cluster_ids_outside_the_unsafe_range_pass(values: dict[str, Any]):
    parse(environment="production", publicAccessCidrs=["8.8.8.0/24"], ciliumExtraValues=values)


@pytest.mark.parametrize(("values", "key", "fragment"), [
    ({"tunnel": "disabled"}, "ciliumExtraValues.tunnel", "removed in Cilium 1.15"),
    ({"ipam": {"mode": "cluster-pool"}}, "ciliumExtraValues.ipam.mode", "set by the program"),
    ({"eni": {"enabled": False}}, "ciliumExtraValues.eni.enabled", "set by the program"),
    ({"hubble": {"relay": {"enabled": False}}}, "ciliumExtraValues.hubble.relay.enabled", "set by the program"),
])
def test_owned_and_removed_values_are_refused(values: dict[str, Any], key: str, fragment: str):
    refused(key, fragment, ciliumExtraValues=values)


# --------------------------------------------------------------------------------------
# Namespaces
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("full", ["cillium-eks:environment", "cilium_eks:environment", "Cilium-EKS:environment",
                                  "cilium-ek:demoEnabled", "cilium:environment", "prod:nodeGroups"])
def test_near_miss_namespaces_are_refused(full: str):
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, full: "production"}, project=PROJECT, stack="dev", region="eu-west-1")
    [problem] = [p for p in exc.value.problems if p.key == full]
    short = full.partition(":")[2]
    assert f"rename it to `{PROJECT}:{short}`" in problem.fix and problem.severity == "error"


def test_provider_namespaces_and_unrelated_keys_pass():
    parse_config({**BASE, "aws:region": "eu-west-1", "aws:profile": "ops", "kubernetes:enableServerSideApply": "true",
                  "pulumi:tags": "{}", "eks:environment": "x"}, project=PROJECT, stack="dev", region="eu-west-1")


def test_unknown_keys_in_the_project_namespace_are_refused():
    refused("environmnet", "did you mean `environment`", environmnet="production")


# --------------------------------------------------------------------------------------
# Stack files, read as Pulumi reads them
# --------------------------------------------------------------------------------------


def write(tmp_path: Path, body: str, stack: str = "bad") -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(("text", "value"), [
    ("1.30", 1.3), ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("True", True), ("FALSE", False),
    ("tRue", "tRue"), ("~", None), ("0x1F", 31), ("0o17", 15), ("017", 15), ("1_000", 1000), ("08", 8.0),
    ("1e400", "1e400"), ("12:30", "12:30"), ("1.20.0", "1.20.0"), ("2024-01-01", "2024-01-01 00:00:00 +0000 UTC"),
])
def test_scalars_resolve_as_go_yaml_v3_resolves_them(text: str, value: Any):
    assert resolve_plain(text) == value and type(resolve_plain(text)) is type(value)


@pytest.mark.parametrize(("value", "text"), [(1.3, "1.3"), (3.0, "3"), (True, "true"), (None, ""), (1e21, "1e+21"),
                                             (1.5e-7, "1.5e-7"), ({"b": 1, "a": [1.0, "x"]}, '{"a":[1,"x"],"b":1}')])
def test_values_reach_the_program_as_the_text_pulumi_passes(value: Any, text: str):
    assert config_text(value) == text


def test_stack_files_are_read_as_pulumi_reads_them(tmp_path: Path):
    path = write(tmp_path, "config:\n  aws:region: eu-west-1\n  cilium-eks:kubernetesVersion: 1.30\n"
                           "  cilium-eks:availabilityZoneCount: 3.0\n  cilium-eks:demoEnabled: True\n"
                           "  cilium-eks:publicAccessCidrs: [8.8.8.0/24]\n  environment: development\n")
    config = stack_program_config("bad", project_dir=tmp_path)
    texts = config.texts()
    assert texts["cilium-eks:kubernetesVersion"] == "1.3"  # an unquoted 1.30 is the number 1.3
    assert texts["cilium-eks:availabilityZoneCount"] == "3" and texts["cilium-eks:demoEnabled"] == "true"
    assert texts["cilium-eks:publicAccessCidrs"] == '["8.8.8.0/24"]'
    assert texts["cilium-eks:environment"] == "development"  # namespaced with the project
    with pytest.raises(ConfigError) as exc:
        parse_config(texts, project=PROJECT, stack="bad", region="eu-west-1")
    [problem] = exc.value.problems
    assert problem.key == f"{PROJECT}:kubernetesVersion" and "quote it, `kubernetesVersion: '1.30'`" in problem.what
    path.write_text(path.read_text().replace("1.30", "'1.30'"))
    texts = stack_program_config("bad", project_dir=tmp_path).texts()
    assert parse_config(texts, project=PROJECT, stack="bad", region="eu-west-1").cluster.kubernetes_version == "1.30"


@pytest.mark.parametrize(("line", "declared"), [
    ("cilium-eks:demoEnabled: no", "boolean"), ("cilium-eks:demoEnabled: 'True'", "boolean"),
    ("cilium-eks:endpointPublicAccess: on", "boolean"), ("cilium-eks:availabilityZoneCount: 2.5", "integer"),
    ("cilium-eks:availabilityZoneCount: two", "integer"), ("cilium-eks:publicAccessCidrs: 8.8.8.0/24", "array<string>"),
    ("cilium-eks:clusterLogTypes: [1, 2]", "array<string>"), ("cilium-eks:vpcCidr: {a: 1}", "string"),
])
def test_typed_keys_are_checked_as_pulumi_checks_them(tmp_path: Path, line: str, declared: str):
    write(tmp_path, f"config:\n  aws:region: eu-west-1\n  {line}\n")
    with pytest.raises(StackFileError) as exc:
        stack_program_config("bad", project_dir=tmp_path)
    [problem] = exc.value.problems
    assert problem.line == 3 and f"must be of type '{declared}'" in problem.what and problem.fix


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path):
    cases = [
        ("config:\n  cilium-eks:environment: production\n  aws:region: eu-west-1\n"
         "  cilium-eks:environment: development\n", "(lines 2 and 4)"),
        ("config:\n  cilium-eks:nodeGroups:\n    a:\n      maxSize: 3\n      maxSize: 300\n", "(lines 4 and 5)"),
        ("config:\n  environment: production\n  cilium-eks:environment: development\n", "(line 2 and line 3"),
    ]
    for body, lines in cases:
        path = write(tmp_path, body)
        with pytest.raises(StackFileError) as exc:
            read_stack_file(path, PROJECT)
        assert lines in str(exc.value) and "twice" in str(exc.value), str(exc.value)


BOMB = "config:\n  cilium-eks:ciliumExtraValues:\n    a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))

MALFORMED: dict[str, tuple[str, int | None, str]] = {
    "config-as-list": ("config:\n  - aws:region: eu-west-1\n", 1, "`config:` holds a list"),
    "tabs": ("config:\n\taws:region: eu-west-1\n", 2, "tab"),
    "duplicate-key": ("config:\n  aws:region: eu-west-1\n  aws:region: us-east-1\n", 3, "given twice"),
    "invalid": ("config:\n  aws:region: [eu-west-1\n", None, "not valid YAML"),
    "not-a-map": ("- config\n", 1, "not a map with a `config:` key"),
    "two-documents": ("config: {}\n---\nconfig: {}\n", 2, "more than one YAML document"),
    "alias-bomb": (BOMB, None, "more than 20000 values"),
    "self-reference": ("config:\n  cilium-eks:ciliumExtraValues: &a {x: *a}\n", 2, "refers to the value"),
    "deep": ("config:\n  k: " + "[" * 100 + "]" * 100 + "\n", 2, "nested deeper than 64"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_stack_files_are_refused_with_their_line(tmp_path: Path, case: str):
    body, line, fragment = MALFORMED[case]
    path = write(tmp_path, body)
    with pytest.raises(StackFileError) as exc:
        read_stack_file(path, PROJECT)
    assert fragment in str(exc.value), str(exc.value)
    [problem] = exc.value.problems
    if line is not None:
        assert problem.line == line, str(exc.value)
    assert str(exc.value).startswith(f"{path}:") and problem.fix


def test_a_value_without_a_json_form_is_refused_with_its_line(tmp_path: Path):
    # Pulumi hands objects to the program as JSON; go's encoding/json has no NaN.
    write(tmp_path, "config:\n  aws:region: eu-west-1\n  cilium-eks:ciliumExtraValues:\n    MTU: .nan\n")
    with pytest.raises(StackFileError, match=r"Pulumi.bad.yaml:3: `cilium-eks:ciliumExtraValues`: nan has no JSON"):
        stack_program_config("bad", project_dir=tmp_path)


def test_the_alias_bomb_stops_at_the_guard_not_after_expanding():
    # 9^9 values if expanded: the guard refuses it after expanding at most its budget.
    with pytest.raises(StackFileError, match="more than 20000 values"):
        load_yaml(Path("bomb.yaml"), BOMB)


def test_a_big_file_is_refused_before_it_is_parsed(tmp_path: Path):
    path = write(tmp_path, "config:\n  k: '" + "x" * (1 << 20) + "'\n")
    with pytest.raises(StackFileError, match="more than the 1048576 a stack file may have"):
        read_stack_file(path, PROJECT)


def test_secure_values_are_secret_keys_and_unreadable_offline(tmp_path: Path):
    path = write(tmp_path, "config:\n  aws:region: eu-west-1\n  cilium-eks:ciliumExtraValues:\n"
                           "    hubble: {export: {static: {filePath: {secure: v1:abc}}}}\n"
                           "  cilium-eks:vpcCidr:\n    secure: v1:def\n")
    stack_file = read_stack_file(path, PROJECT)
    assert stack_file.config["cilium-eks:vpcCidr"] == Encrypted("v1:def")
    assert stack_file.secret_keys == ["cilium-eks:ciliumExtraValues", "cilium-eks:vpcCidr"]
    config = stack_program_config("bad", project_dir=tmp_path)
    assert config.unreadable == ("cilium-eks:vpcCidr",) and "cilium-eks:vpcCidr" not in config.values
    assert '"filePath":"<secret>"' in config.texts()["cilium-eks:ciliumExtraValues"]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The program and its tooling in a throw-away directory, to add broken stack files to."""
    root = tmp_path_factory.mktemp("project")
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT_DIR / name, root / name)
    for name in ("cilium_eks", "components", "tooling"):
        shutil.copytree(PROJECT_DIR / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    yield root


def test_malformed_stack_files_exit_2_with_the_line(project_copy: Path, capfd: pytest.CaptureFixture[str]):
    for case in ("config-as-list", "tabs", "duplicate-key", "invalid", "alias-bomb"):
        body, line, fragment = MALFORMED[case]
        stack = f"bad-{case}"
        path = project_copy / f"Pulumi.{stack}.yaml"
        path.write_text(body)
        try:
            proc = subprocess.run([sys.executable, "-m", "tooling.plan", "--stack", stack], cwd=project_copy,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert proc.returncode == 2, (case, proc.stderr)
            assert f"Pulumi.{stack}.yaml:{line if line is not None else ''}" in proc.stderr, (case, proc.stderr)
            assert fragment in proc.stderr and "Traceback" not in proc.stderr, (case, proc.stderr)
            # The stack CLI reads the same file for every command: exit 2, the line, no traceback.
            code = cli_main(["preview", "--stack", stack], env={"PATH": ""}, project_dir=project_copy)
            err = capfd.readouterr().err
            assert code == 2 and f"Pulumi.{stack}.yaml:" in err and fragment in err, (case, err)
        finally:
            path.unlink()


def test_a_type_pulumi_refuses_exits_2_from_the_plan(project_copy: Path):
    path = project_copy / "Pulumi.typed.yaml"
    path.write_text("config:\n  aws:region: eu-west-1\n  cilium-eks:demoEnabled: no\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "tooling.plan", "--stack", "typed"], cwd=project_copy,
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        path.unlink()
    assert proc.returncode == 2, proc.stderr
    assert "Pulumi.typed.yaml:3: `cilium-eks:demoEnabled` must be of type 'boolean'" in proc.stderr


# --------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------

TOKEN = "tok-7f3e9a1c5b2d"  # made up: stands for a credential in a Helm value
SECRET_VALUES = {"hubble": {"export": {"static": {"enabled": True, "filePath": f"/var/run/{TOKEN}/events.log"}}}}


def _plain_copies(value: Any, path: str = "") -> list[str]:
    """Where ``TOKEN`` appears outside a Secret marker."""
    if isinstance(value, Secret):
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _plain_copies(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _plain_copies(v, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and TOKEN in value else []


def _run_with_wire(secret: bool) -> tuple[Graph, list[tuple[str, str, dict[str, Any]]]]:
    """The dev stack with SECRET_VALUES, and every registration exactly as the engine receives it
    (secrets kept)."""
    wire: list[tuple[str, str, dict[str, Any]]] = []

    def spy(monitor: RecordingMonitor) -> None:
        register = monitor.RegisterResource

        def recording(request: Any) -> Any:
            wire.append((request.type, request.name, decode_struct(request.object, keep_secrets=True)))
            return register(request)

        setattr(monitor, "RegisterResource", recording)  # the SDK calls it by name  # noqa: B010

    graph = run_program("dev", overrides={"ciliumExtraValues": SECRET_VALUES}, on_monitor=spy,
                        secret_keys=["ciliumExtraValues"] if secret else [])
    return graph, wire


def test_a_secret_extra_value_stays_secret_in_every_input_and_output():
    graph, wire = _run_with_wire(secret=True)
    leaks = [(t, n, p) for t, n, inputs in wire for p in _plain_copies(inputs)]
    assert leaks == [], f"plain copies of the secret: {leaks}"
    [release] = [inputs for t, _, inputs in wire if t == "kubernetes:helm.sh/v3:Release"]
    assert isinstance(release["values"], Secret)
    assert TOKEN in str(release["values"].value), "the secret must reach the release, inside the marker"
    assert _plain_copies(graph.outputs) == []
    assert [(r.name, p) for r in graph for p in _plain_copies(r.registered_outputs)] == []
    # The mock provider echoes inputs decoded without their markers as outputs; the real engine marks an
    # output secret when the input of the same name was (pulumi/pulumi sdk/go/common/resource/plugin/
    # provider_plugin.go annotateSecrets L900-931, applied to Create's outputs at L1507), so only the
    # Release's own echo may hold the value here.
    holders = {r.type for r in graph if _plain_copies(r.outputs) or _plain_copies(r.inputs)}
    assert holders <= {"kubernetes:helm.sh/v3:Release"}


def test_the_engine_hands_back_secret_outputs_where_the_inputs_were_secret():
    """As the real engine does (provider_plugin.go annotateSecrets), an output whose input was secret
    comes back to the program secret, so whatever the program derives from it (here an export) stays
    secret; an output of a plain input stays plain."""
    import pulumi
    import pulumi_kubernetes as k8s

    def program() -> None:
        cm = k8s.core.v1.ConfigMap("cm", metadata={"name": "x"},
                                   data=pulumi.Output.secret({"token": TOKEN}))
        pulumi.export("data", cm.data)
        pulumi.export("name", cm.metadata.apply(lambda m: m.name))

    graph = run(program, project=PROJECT, stack="dev", config={"aws:region": "eu-west-1"})
    assert isinstance(graph.outputs["data"], Secret) and TOKEN in str(graph.outputs["data"].value)
    assert graph.outputs["name"] == "x"


def test_without_the_secret_mark_the_value_travels_in_plain_text():
    # Negative control: the same value, not secret, is visible, so the test above can fail.
    _, wire = _run_with_wire(secret=False)
    [release] = [inputs for t, _, inputs in wire if t == "kubernetes:helm.sh/v3:Release"]
    assert not isinstance(release["values"], Secret) and _plain_copies(release["values"])


def test_the_program_learns_secret_keys_from_pulumis_runtime_config():
    seen: dict[str, StackConfig] = {}

    def program() -> None:
        seen["cfg"] = read_stack_config()

    config = {"aws:region": "eu-west-1", **{f"{PROJECT}:{k}": v for k, v in BASE.items()},
              f"{PROJECT}:ciliumExtraValues": SECRET_VALUES}
    run(program, project=PROJECT, stack="dev", config=config, secret_keys=[f"{PROJECT}:ciliumExtraValues"])
    assert seen["cfg"].secret_keys == frozenset({"ciliumExtraValues"})
    run(program, project=PROJECT, stack="dev", config=config)
    assert seen["cfg"].secret_keys == frozenset()


def test_the_operator_policy_is_secret_with_secret_values():
    _, wire = _run_with_wire(secret=True)
    [policy] = [inputs for t, n, inputs in wire if t == "aws:iam/policy:Policy" and n.endswith("-operator-eni")]
    assert isinstance(policy["policy"], Secret), "the operator policy copies tag values out of the values"
    _, plain = _run_with_wire(secret=False)
    [policy] = [inputs for t, n, inputs in plain if t == "aws:iam/policy:Policy" and n.endswith("-operator-eni")]
    assert not isinstance(policy["policy"], Secret)


@pytest.mark.parametrize(("key", "value"), [("vpcCidr", "10.0.0.0/16"),
                                          ("clusterAdminArns", [f"arn:aws:iam::{ACCOUNT}:role/ci"]),
                                          ("nodeGroups", {"general": {}})])
def test_a_secret_the_program_cannot_keep_is_refused(key: str, value: Any):
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, key: value}, project=PROJECT, stack="dev", region="eu-west-1",
                     secret_keys=[f"{PROJECT}:{key}"])
    [problem] = exc.value.problems
    assert problem.key == f"{PROJECT}:{key}" and "plain text" in problem.what and "without --secret" in problem.fix
    declared: list[RecordingMonitor] = []
    with pytest.raises(ConfigError):
        run_program("dev", overrides={key: value}, secret_keys=[key], on_monitor=declared.append)
    assert declared[0].recorded == {}
    # The one key that may be secret, and other namespaces' secrets, pass.
    cfg = parse_config(BASE, project=PROJECT, stack="dev", region="eu-west-1",
                       secret_keys=[f"{PROJECT}:ciliumExtraValues", "aws:secretKey"])
    assert cfg.secret_keys == frozenset({"ciliumExtraValues"}) and cfg.is_secret("ciliumExtraValues")


# --------------------------------------------------------------------------------------
# docs/validation.md
# --------------------------------------------------------------------------------------


def test_the_validation_doc_is_the_catalog_and_every_row_names_a_test_here():
    text = validation_catalog.DOC.read_text()
    assert validation_catalog.rendered_doc(text) == text, "run `python -m tooling.validation_catalog`"
    tests = {n.name for n in ast.parse(Path(__file__).read_text()).body if isinstance(n, ast.FunctionDef)}
    missing = [c.test for c in validation_catalog.CHECKS if c.test not in tests]
    assert missing == [], f"rows naming tests that do not exist: {missing}"
