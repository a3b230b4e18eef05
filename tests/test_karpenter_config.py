"""The Karpenter config keys (validated with errors that name the key) and the Pulumi-free spec
(cilium_eks/karpenter.py): which types a pool allows, the one max pods its EC2NodeClass gets, why
Karpenter's own computation (``reservedENIs``) cannot be used with Cilium, and the worst case."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cilium_eks import instance_types
from cilium_eks.capacity import PodAddressing
from cilium_eks.cilium import CiliumOptions
from cilium_eks.config import ConfigError, StackConfig, parse_config
from cilium_eks.config.cross import subnet_plan
from cilium_eks.karpenter import (
    DEFAULT_NODE_POOLS,
    INTERRUPTION_EVENTS,
    NodePoolSpec,
    allowed_types,
    category,
    controller_policies,
    eni_limited_pods,
    generation,
    kube_reserved_memory,
    max_pods_for,
    pool_capacity,
    pool_problems,
    queue_policy,
)
from tooling.stackfiles import stack_config

SECONDARY = CiliumOptions().pod_addressing
DELEGATED = CiliumOptions(prefix_delegation=True).pod_addressing


def parse(stack: str = "dev", **overrides: Any) -> StackConfig:
    raw = {**stack_config(stack), **{f"cilium-eks:{k}": v for k, v in overrides.items()}}
    return parse_config(raw, project="cilium-eks", stack=stack, region=raw.get("aws:region"))


def problems(stack: str = "dev", **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse(stack, **overrides)
    return [str(p) for p in exc.value.problems]


def pool(**fields: Any) -> dict[str, Any]:
    return {"p": {**DEFAULT_NODE_POOLS["default"], **fields}}


# --- the keys --------------------------------------------------------------------------------------


def test_dev_has_karpenter_off_and_prod_on_with_one_pool():
    dev, prod = parse("dev"), parse("prod")
    assert not dev.karpenter.enabled and [p.name for p in dev.karpenter.node_pools] == ["default"]
    assert prod.karpenter.enabled and [p.name for p in prod.karpenter.node_pools] == ["burst"]


def test_a_field_left_out_takes_its_default():
    cfg = parse(karpenterEnabled=True, karpenterNodePools={"spot": {"capacityTypes": ["spot"]}})
    [p] = cfg.karpenter.node_pools
    assert p == NodePoolSpec(name="spot", capacity_types=("spot",))


@pytest.mark.parametrize(("fields", "key", "fragment"), [
    ({"instanceCategory": ["m"]}, "p.instanceCategory", "did you mean `instanceCategories`"),
    ({"instanceCategories": []}, "p.instanceCategories", "invalid value []"),
    ({"instanceCategories": ["M6"]}, "p.instanceCategories", "'M6' is not an instance category"),
    ({"instanceFamilies": ["m6i", "c7g"], "instanceCategories": ["m"]}, "p.instanceFamilies",
     "c7g is of category 'c'"),
    ({"architectures": ["x86_64"]}, "p.architectures", "'x86_64' is not amd64 or arm64"),
    ({"capacityTypes": ["SPOT"]}, "p.capacityTypes", "lower-case"),
    ({"minVcpus": 16, "maxVcpus": 4}, "p.maxVcpus", "need 1 <= minVcpus <= maxVcpus"),
    ({"cpuLimit": "64"}, "p.cpuLimit", "invalid value '64'"),
    ({"memoryLimit": "256GB"}, "p.memoryLimit", "is not a memory quantity"),
    ({"consolidationPolicy": "WhenUnderutilized"}, "p.consolidationPolicy", "is not one of"),
    ({"consolidateAfter": "5 min"}, "p.consolidateAfter", "is not a duration"),
    ({"expireAfter": "30d"}, "p.expireAfter", "is not a duration"),
    ({"diskSizeGiB": 8}, "p.diskSizeGiB", "outside 20..16384"),
    ({"minGeneration": 0}, "p.minGeneration", "is not a generation"),
])
def test_a_bad_field_is_refused_naming_its_key(fields: dict[str, Any], key: str, fragment: str):
    found = problems(karpenterNodePools=pool(**fields))
    assert any(p.startswith(f"cilium-eks:karpenterNodePools.{key}: ") and fragment in p for p in found), found


def test_pools_are_checked_even_with_karpenter_off():
    # Turning Karpenter on must never reveal a problem that was there all along.
    assert problems(karpenterEnabled=False, karpenterNodePools=pool(architectures=["sparc"]))


def test_a_bad_pool_name_and_a_pool_that_is_not_a_map_are_refused():
    found = problems(karpenterNodePools={"Big_Pool": {}, "x": 3})
    assert any("karpenterNodePools.Big_Pool:" in p and "1-20 lower-case" in p for p in found)
    assert any("karpenterNodePools.x:" in p and "expected a map" in p for p in found)


def test_karpenter_on_without_a_pool_is_refused():
    assert any("karpenterNodePools: no NodePool" in p for p in problems(karpenterEnabled=True, karpenterNodePools={}))


def test_every_problem_is_reported_together():
    found = problems(karpenterNodePools=pool(architectures=["sparc"], memoryLimit="1", expireAfter="x"))
    assert len([p for p in found if "karpenterNodePools.p." in p]) == 3


# --- rules across keys (need Cilium's addressing) ------------------------------------------------


def test_a_pool_that_allows_no_known_type_is_refused_only_when_karpenter_is_on():
    nothing = pool(instanceCategories=["zz"])
    assert any("allows no instance type" in p for p in problems(karpenterEnabled=True, karpenterNodePools=nothing))
    assert parse(karpenterEnabled=False, karpenterNodePools=nothing).karpenter.node_pools


def test_prefix_delegation_leaves_out_the_types_ec2_delegates_no_prefix_to():
    xen_only = pool(instanceFamilies=["m4"], instanceCategories=["m"], minGeneration=4)
    assert parse(karpenterEnabled=True, karpenterNodePools=xen_only).karpenter.enabled
    found = problems(karpenterEnabled=True, karpenterNodePools=xen_only, ciliumPrefixDelegation=True)
    assert any("that EC2 delegates prefixes to" in p for p in found)


def test_a_cpu_limit_below_the_smallest_type_is_refused():
    found = problems(karpenterEnabled=True, karpenterNodePools=pool(cpuLimit=2, minVcpus=4))
    assert any("karpenterNodePools.p.cpuLimit:" in p and "never launch a node" in p for p in found)


def test_a_pool_whose_max_pods_wastes_more_than_half_of_its_largest_type_gets_a_warning():
    cfg = parse(karpenterEnabled=True, karpenterNodePools=pool(minVcpus=2, maxVcpus=16))
    [warning] = [w for w in cfg.warnings if w.key == "cilium-eks:karpenterNodePools.p"]
    assert warning.severity == "warning" and "unused" in warning.what
    narrow = parse(karpenterEnabled=True, karpenterNodePools=pool(minVcpus=4, maxVcpus=8, minGeneration=6,
                                                                    instanceFamilies=["m6i", "m7i"],
                                                                    instanceCategories=["m"]))
    assert not [w for w in narrow.warnings if "karpenterNodePools" in w.key]


def test_the_subnets_carry_each_pools_worst_case_when_karpenter_is_on():
    off, on = parse("prod", karpenterEnabled=False), parse("prod")
    [cap] = [pool_capacity(p, on.pod_addressing) for p in on.karpenter.node_pools]
    assert cap is not None
    count = len(subnet_plan(on))
    for before, after in zip(subnet_plan(off), subnet_plan(on), strict=True):
        assert after.addresses_needed - before.addresses_needed == math.ceil(
            cap.demand.max_nodes / count) * cap.demand.per_node.addresses


# --- the spec: types, max pods ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "cat", "gen"), [
    ("m6i.large", "m", 6), ("c7gn.xlarge", "c", 7), ("u-6tb1.metal", "u", 1), ("inf2.xlarge", "inf", 2),
    ("mac2-m2pro.metal", "mac", 2), ("x2iedn.xlarge", "x", 2)])
def test_category_and_generation_are_parsed_as_karpenter_labels_them(name: str, cat: str, gen: int):
    assert (category(name), generation(name)) == (cat, gen)


def test_allowed_types_follow_every_filter_of_the_pool():
    p = NodePoolSpec(name="p", instance_categories=("m", "c"), instance_families=("m7g", "c6i", "m6i"),
                     architectures=("arm64",), min_generation=6, min_vcpus=2, max_vcpus=8)
    names = {t.name for t in allowed_types(p, SECONDARY)}
    assert names == {"m7g.large", "m7g.xlarge", "m7g.2xlarge"}
    amd = {t.name for t in allowed_types(NodePoolSpec(name="p", instance_families=("m6i",), max_vcpus=8), SECONDARY)}
    assert amd == {"m6i.xlarge", "m6i.2xlarge"}
    assert not any(t.architecture != "amd64" for t in allowed_types(NodePoolSpec(name="p"), SECONDARY))


@pytest.mark.parametrize("addressing", [SECONDARY, DELEGATED, PodAddressing(host_network_pods=2),
                                        PodAddressing(first_interface_index=1)], ids=["secondary", "pd", "kpr", "fii1"])
def test_the_nodeclass_max_pods_never_exceeds_what_cilium_addresses_on_any_allowed_type(addressing: PodAddressing):
    for p in (NodePoolSpec(name="p"), NodePoolSpec(name="q", min_vcpus=1, max_vcpus=192, min_generation=1)):
        cap = pool_capacity(p, addressing)
        assert cap is not None and cap.types
        assert all(cap.max_pods <= n.max_pods for n in cap.types)
        assert any(cap.max_pods == n.max_pods for n in cap.types), "and it is the smallest of them, not less"


def test_reserved_enis_cannot_make_karpenters_formula_match_cilium():
    """Karpenter's own count is (ENIs - reservedENIs) x (IPs - 1) + 2; Cilium addresses ENIs x (IPs - 1) - agent
    IPs + host-network pods. With reservedENIs 0 Karpenter admits 2 - (host-network - agent IPs) pods too many
    on every type below the AWS cap (1 with this project's defaults); with 1 it wastes a whole ENI of pods; with
    prefix delegation no integer comes close."""
    below_cap = [t for t in instance_types.table().values() if SECONDARY.node(t).limited_by == "pod IPs"
                 and t.ipv4_per_eni > 2 and t.enis > 1]
    assert below_cap
    for t in below_cap:
        cilium = SECONDARY.node(t).max_pods
        assert eni_limited_pods(t, 0) - cilium == 2 - (SECONDARY.host_network_pods - SECONDARY.reserved_ips) == 1
        assert cilium - eni_limited_pods(t, 1) == t.ipv4_per_eni - 2
    m6i = instance_types.lookup("m6i.large")
    assert m6i is not None
    assert max(eni_limited_pods(m6i, r) for r in range(m6i.enis)) < DELEGATED.node(m6i).max_pods


def test_max_pods_for_named_types_refuses_types_the_table_does_not_know():
    large = instance_types.lookup("m6i.large")
    assert large is not None
    assert max_pods_for(["m6i.xlarge", "m6i.large"], SECONDARY) == (SECONDARY.node(large).max_pods, [])
    assert max_pods_for(["m6i.xlarge", "m99.large"], SECONDARY) == (None, ["m99.large"])


def test_kube_reserved_memory_is_what_nodeadm_reserves_for_that_many_pods():
    assert kube_reserved_memory(57) == "882Mi"  # 11 x 57 + 255
    assert kube_reserved_memory(110) == "1465Mi"


def test_the_worst_case_is_the_type_with_most_pod_ips_per_vcpu_filled_to_the_cpu_limit():
    p = NodePoolSpec(name="p", min_vcpus=2, max_vcpus=16, cpu_limit=64)
    cap = pool_capacity(p, SECONDARY)
    assert cap is not None

    def per_vcpu(n: Any) -> float:
        return cap.pod_ips_on(n) / n.vcpus

    assert per_vcpu(cap.worst) == max(per_vcpu(n) for n in cap.types)
    assert cap.worst_nodes == 64 // (cap.worst.vcpus or 1)
    assert cap.worst_pods == cap.worst_nodes * min(cap.max_pods, cap.worst.max_pods)
    assert problems_of(p) == [("karpenterNodePools.p", "warning")]


def problems_of(p: NodePoolSpec) -> list[tuple[str, str]]:
    return [(key, severity) for key, _, _, severity in pool_problems(p, SECONDARY)]


# --- the AWS documents ------------------------------------------------------------------------------


def test_the_controller_may_create_and_delete_only_what_carries_this_clusters_tags():
    docs = controller_policies(cluster_name="blue", partition="aws", region="eu-west-1", account_id="123456789012",
                               node_role_arn="arn:aws:iam::123456789012:role/node", queue_arn="arn:aws:sqs:q")
    writes = ("ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:TerminateInstances",
              "ec2:DeleteLaunchTemplate", "ec2:RunInstances")
    for doc in docs.values():
        for st in doc["Statement"]:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            if not set(actions) & set(writes) or st["Sid"] == "AllowScopedEC2InstanceAccessActions":
                continue
            assert "kubernetes.io/cluster/blue" in str(st["Condition"]), st["Sid"]
    actions = {a for d in docs.values() for st in d["Statement"]
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    # The instance profile is the stack's: no IAM write but PassRole, on the node role only.
    assert not {a for a in actions if a.startswith("iam:")} - {"iam:PassRole", "iam:GetInstanceProfile",
                                                                "iam:ListInstanceProfiles"}
    assert "arc-zonal-shift:GetManagedResource" not in actions, "zonal shift is not enabled"


def test_the_queue_takes_only_what_eventbridge_sends_over_tls():
    doc = queue_policy("arn:aws:sqs:eu-west-1:123456789012:blue-karpenter")
    allow, deny = doc["Statement"]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert allow["Action"] == "sqs:SendMessage"
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(INTERRUPTION_EVENTS) == {"scheduled-change", "spot-interruption", "rebalance", "state-change",
                                        "capacity-reservation"}
