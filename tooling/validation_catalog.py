"""The catalog of input checks behind docs/validation.md: each input class, what is refused, where,
and the test that shows it. ``python -m tooling.validation_catalog`` writes the table into
docs/validation.md (between its markers); tests/test_hostile_input.py fails when the file and this
data differ, or when a row names a test that does not exist.

Where a check runs:

* ``pulumi``: the Pulumi CLI itself, before the program runs (reading the stack file, the types
  Pulumi.yaml declares);
* ``plan``: ``python -m tooling.plan`` / ``make plan`` (offline, exit 2);
* ``preflight``: the stack CLI before ``make preview`` / ``make up`` / ``make doctor``;
* ``program``: ``pulumi preview`` and ``pulumi up`` (``read_stack_config``, before anything is declared);
* ``pack``: the policy pack's ``stack-config-valid`` rule (the same validator, on the engine's config);
* ``deploy``: the program at preview/up, from the provider's answers, before anything in the VPC
  is declared.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .paths import PROJECT_DIR

DOC = PROJECT_DIR / "docs" / "validation.md"
BEGIN = "<!-- BEGIN GENERATED checks (python -m tooling.validation_catalog) -->"
END = "<!-- END GENERATED checks -->"

CORE = ("plan", "preflight", "program", "pack")
READER = ("pulumi", "plan", "preflight")


@dataclass(frozen=True)
class Check:
    input: str
    refused: str
    where: tuple[str, ...]
    test: str  # a test function in tests/test_hostile_input.py


CHECKS: tuple[Check, ...] = (
    Check("CIDR keys (`vpcCidr`, subnet CIDRs, `publicAccessCidrs`)",
          "an address without a prefix length (`203.0.113.7`), host bits set, not IPv4 where IPv4 is needed",
          CORE, "test_a_cidr_needs_its_prefix_length"),
    Check("`publicAccessCidrs`",
          "blocks inside RFC 1918, shared (100.64/10), loopback, link-local or multicast space; more than 40 "
          "blocks (EKS quota, not adjustable); a block listed twice; the whole internet in a strict stack, in "
          "any spelling (`0.0.0.0/0`, or halves that add up to it)",
          CORE, "test_public_access_cidrs_refuse_private_space_and_the_eks_limit"),
    Check("node group names", "a `nodeGroupNamePrefix` (`<project>-<stack>-<group>-`) over 37 characters",
          CORE, "test_a_node_group_name_prefix_longer_than_eks_allows_is_refused"),
    Check("node group sizes", "`maxSize` over 450 (EKS quota per managed node group), negative sizes, "
          "`minSize <= desiredSize <= maxSize` broken, more than 30 groups",
          CORE, "test_node_group_sizes_are_held_to_the_eks_quota_and_order"),
    Check("node labels", "an empty value, a key over 63 characters (EKS counts the prefix), an invalid name or "
          "prefix, keys under `kubernetes.io/`, `k8s.io/` or `eks.amazonaws.com/` (EKS and kubelet refuse them)",
          CORE, "test_node_labels_eks_or_kubelet_refuse_are_refused"),
    Check("`clusterAdminArns`", "STS session ARNs (`assumed-role/...`), the same principal twice (also with "
          "another path or case), anything but an IAM role or user ARN",
          CORE, "test_cluster_admin_arns_need_iam_principals_once_each"),
    Check("instance types (`nodeGroups.*.instanceTypes`)", "a type that does not exist (`t3.huge`: known family, "
          "unknown size), x86 and Graviton types in one group, a Xen type with `ciliumPrefixDelegation` (EC2 delegates "
          "prefixes to Nitro only); a type newer than the instance-type table is a warning",
          CORE, "test_instance_types_that_do_not_exist_or_mix_architectures_are_refused"),
    Check("no nodes", "every node group at `desiredSize: 0`: nothing would ever run Cilium, CoreDNS or the demo",
          CORE, "test_a_cluster_whose_groups_never_start_a_node_is_refused"),
    Check("`environment`", "any value but `development`, `staging`, `production`; a missing key means production "
          "(strict), so a missing, misspelled or wrongly namespaced environment can never weaken the checks",
          CORE, "test_production_cannot_be_weakened_by_a_missing_or_misspelled_environment"),
    Check("`availabilityZoneCount`", "more zones than the region offers the account (Local Zones left out)",
          ("deploy",), "test_more_zones_than_the_region_offers_fails_before_the_vpc"),
    Check("`existingPrivateSubnetIds`", "adopted private subnets that do not span two availability zones",
          ("deploy",), "test_adopted_subnets_in_one_zone_fail_before_anything_is_tagged"),
    Check("`ciliumExtraValues`: the chart", "values the pinned chart's `values.schema.json` refuses (`MTU: "
          "\"9001\"`) and keys its `values.yaml` does not define (a typo Helm would ignore); needs the chart's "
          "reference data (`make reference`), the plan says when it is absent",
          ("plan", "preflight"), "test_extra_values_the_chart_refuses_are_refused"),
    Check("`ciliumExtraValues`: known-bad", "the known-bad table (`cilium_eks/known_bad.py`): the chart's "
          "validate.yaml rules (ENI cluster ids 128-255, ServiceMonitors without CRDs), aws-cni chaining, bugs",
          CORE, "test_every_known_bad_entry_is_refused_through_the_validator"),
    Check("`ciliumExtraValues`: owned and removed values", "values the program sets itself, keys the chart "
          "removed (`tunnel`)", CORE, "test_owned_and_removed_values_are_refused"),
    Check("namespaces", "a key under a namespace close to the project's (`cillium-eks:`, `cilium_eks:`, "
          "`Cilium-EKS:`) or one of this project's keys under a namespace no provider reads; unknown keys in the "
          "project's namespace", CORE, "test_near_miss_namespaces_are_refused"),
    Check("stack file: keys", "a key twice in one map (both lines named), a key written with and without the "
          "project namespace", READER, "test_duplicate_keys_are_refused_with_both_lines"),
    Check("stack file: types", "a value whose YAML 1.2 reading does not fit the type Pulumi.yaml declares "
          "(`demoEnabled: no` is the text `no`); `kubernetesVersion: 1.30` unquoted is the number 1.3",
          (*READER, "program"), "test_stack_files_are_read_as_pulumi_reads_them"),
    Check("stack file: shape and size", "invalid YAML, tab indentation, `config:` as a list, a file that is not "
          "a map, more than one document, an alias bomb, deep nesting, over 1 MiB: exit 2 with the file and line",
          ("plan", "preflight"), "test_malformed_stack_files_exit_2_with_the_line"),
    Check("secrets", "a secret on a key the program would write in plain text (only `ciliumExtraValues` may be "
          "secret; its values then stay secret in every resource input)",
          ("plan", "preflight", "program"), "test_a_secret_the_program_cannot_keep_is_refused"),
)


def render() -> str:
    rows = ["| Input | Refused | Where | Test |", "| --- | --- | --- | --- |"]
    rows += [f"| {c.input} | {c.refused} | {', '.join(c.where)} | `{c.test}` |" for c in CHECKS]
    return "\n".join(rows) + "\n"


def rendered_doc(text: str) -> str:
    """``text`` (docs/validation.md) with the table between its markers replaced."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{DOC} lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{render()}{END}{tail}"


def main(argv: list[str] | None = None, doc: Path = DOC) -> int:
    doc.write_text(rendered_doc(doc.read_text()))
    print(f"wrote {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
