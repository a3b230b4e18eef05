"""docs/configuration.md, section ``reference``: every key of ``CONFIG_KEYS`` with its type,
default, value in each committed stack and meaning, and the fields of the object-valued keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from cilium_eks.cilium import OWNED_VALUES as PROGRAM_OWNED_CILIUM_VALUES
from cilium_eks.cilium import REMOVED_VALUES as REMOVED_CILIUM_VALUES
from cilium_eks.config import CONFIG_KEYS, DEFAULT_NODE_GROUPS, ConfigKey
from cilium_eks.eks import CAPACITY_TYPES
from cilium_eks.karpenter import DEFAULT_NODE_POOLS

from ..stackfiles import project_name, stack_config, stack_files
from .markers import DocsError

#: The fields of one `nodeGroups` entry: (type, meaning). Must cover exactly the fields the
#: validator knows (DEFAULT_NODE_GROUPS carries a default for each); generation fails otherwise.
NODE_GROUP_FIELDS: Mapping[str, tuple[str, str]] = {
    "instanceTypes": ("list of strings", "EC2 instance types, e.g. `m6i.large`. In ENI mode a type's ENI limits "
                                         "(ENIs x IPs per ENI) cap the pods a node holds; with several types EKS "
                                         "applies the smallest max-pods of the group."),
    "capacityType": (" or ".join(f"`{c}`" for c in CAPACITY_TYPES), "`SPOT` is cheaper and can be reclaimed; use "
                                                                   "`ON_DEMAND` for system workloads."),
    "minSize": ("integer >= 0", "Fewest nodes. The sum over groups decides the operator's replicas (2 when "
                                "at least 2 nodes always exist)."),
    "desiredSize": ("integer, minSize..maxSize", "Nodes at creation."),
    "maxSize": ("integer >= 1", "Most nodes the group scales to."),
    "diskSizeGiB": ("integer 20..16384", "Root volume size per node."),
    "labels": ("map of string to string", "Kubernetes labels on every node; the program adds "
                                          "`cilium-eks/node-group: <name>`."),
}


def inline(value: Any) -> str:
    """A value as it fits in a table cell (`see below` for what does not)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else "`\"\"` (none)"
    if isinstance(value, list) and not value:
        return "`[]` (none)"
    if isinstance(value, dict) and not value:
        return "`{}` (none)"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return "`" + json.dumps(value) + "`"
    if isinstance(value, dict | list):
        return "see below"
    return f"`{value}`"


def stack_values() -> dict[str, dict[str, Any]]:
    """Every committed stack's configuration, by stack name."""
    return {stack: stack_config(stack) for stack in stack_files()}


def _structured(key: ConfigKey, stacks: Mapping[str, Mapping[str, Any]], project: str) -> list[str]:
    """YAML blocks for the default and stack values that do not fit in a table cell."""
    out: list[str] = []
    blocks = [("default", key.default), *((s, cfg.get(f"{project}:{key.name}")) for s, cfg in stacks.items())]
    for label, value in blocks:
        if isinstance(value, dict | list) and inline(value) == "see below":
            out += [f"{label}:", "", "```yaml", yaml.safe_dump({key.name: value}, sort_keys=False).rstrip("\n"),
                    "```", ""]
    return out


def _node_group_fields() -> list[str]:
    defaults = DEFAULT_NODE_GROUPS["general"]
    if set(defaults) != set(NODE_GROUP_FIELDS):
        raise DocsError(f"nodeGroups fields changed in cilium_eks/config/keys.py: documented "
                        f"{sorted(NODE_GROUP_FIELDS)}, validated {sorted(defaults)}; update NODE_GROUP_FIELDS in "
                        "tooling/docs/configuration.py")
    lines = ["Each entry is `<group name>: {fields}`; the name (1-20 lower-case letters, digits, dashes) becomes "
             "part of AWS names. A field left out takes its default.", "",
             "| Field | Type | Default | Meaning |", "|---|---|---|---|"]
    for f, (typ, meaning) in NODE_GROUP_FIELDS.items():
        lines.append(f"| `{f}` | {typ} | {inline(defaults[f])} | {meaning} |")
    return [*lines, ""]


def _cilium_extra_values_fields() -> list[str]:
    lines = ["Any Helm value of the pinned Cilium chart, as a nested map, deep-merged into the values the program "
             "computes (maps merge, everything else is replaced). Two kinds of paths are refused with an error:", "",
             "Removed or obsolete in current charts:", ""]
    lines += [f"- `{path}`: {why}" for path, why in REMOVED_CILIUM_VALUES.items()]
    lines += ["", "Owned by the program (ENI IPAM, IRSA, kube-proxy replacement and Hubble depend on them; use the "
              "dedicated key instead):", ""]
    lines += ["- " + ", ".join(f"`{path}`" for path in PROGRAM_OWNED_CILIUM_VALUES), "",
              "Example (`Pulumi.<stack>.yaml`):", "", "```yaml", "config:", "  cilium-eks:ciliumExtraValues:",
              "    bandwidthManager:", "      enabled: true", "    hubble:", "      metrics:", "        enabled:",
              "          - dns", "          - drop", "          - flow", "```", ""]
    return lines


#: The fields of one `karpenterNodePools` entry: (type, meaning). Must cover exactly the fields the validator
#: knows (DEFAULT_NODE_POOLS carries a default for each); generation fails otherwise.
KARPENTER_NODE_POOL_FIELDS: Mapping[str, tuple[str, str]] = {
    "instanceCategories": ("list of strings", "`karpenter.k8s.aws/instance-category` values (`m` of m6i)."),
    "instanceFamilies": ("list of strings", "Families (`m6i`), each of a listed category; `[]`: every family of the "
                                            "categories."),
    "architectures": ("list of `amd64`, `arm64`", "CPU architectures."),
    "capacityTypes": ("list of `on-demand`, `spot`", "`karpenter.sh/capacity-type` values."),
    "minGeneration": ("integer >= 1", "Oldest instance generation (5: c5/m5/r5 and newer)."),
    "minVcpus": ("integer >= 1", "Smallest instance size, in vCPUs."),
    "maxVcpus": ("integer >= minVcpus", "Largest instance size, in vCPUs. The pool's EC2NodeClass gives every node "
                                        "the smallest max pods Cilium addresses on any allowed type: keep the range "
                                        "to types of similar ENI limits (a warning says when half is lost)."),
    "cpuLimit": ("integer >= 1", "Most vCPUs over all the pool's nodes (NodePool `limits.cpu`); the plan fills "
                                 "it with the type of most pod IPs per vCPU for the subnets' worst case."),
    "memoryLimit": ("quantity (`Mi`, `Gi`, `Ti`)", "Most memory over all the pool's nodes (`limits.memory`)."),
    "consolidationPolicy": ("`WhenEmpty`, `WhenEmptyOrUnderutilized` or `Balanced`",
                            "When Karpenter removes or replaces nodes to pack pods tighter."),
    "consolidateAfter": ("duration (`30s`, `5m`, `Never`)", "How long a node must stay unchanged before "
                                                            "consolidation considers it."),
    "expireAfter": ("duration (`720h`, `Never`)", "Nodes older than this are replaced."),
    "diskSizeGiB": ("integer 20..16384", "Root volume (gp3, encrypted) per node."),
}


def _karpenter_node_pool_fields() -> list[str]:
    defaults = DEFAULT_NODE_POOLS["default"]
    if set(defaults) != set(KARPENTER_NODE_POOL_FIELDS):
        raise DocsError(f"karpenterNodePools fields changed in cilium_eks/karpenter.py: documented "
                        f"{sorted(KARPENTER_NODE_POOL_FIELDS)}, validated {sorted(defaults)}; update "
                        "KARPENTER_NODE_POOL_FIELDS in tooling/docs/configuration.py")
    lines = ["Each entry is `<pool name>: {fields}` (with `karpenterEnabled: true`); the name (1-20 lower-case "
             "letters, digits, dashes) names the NodePool and its EC2NodeClass. A field left out takes its default. "
             "See docs/autoscaling.md.", "",
             "| Field | Type | Default | Meaning |", "|---|---|---|---|"]
    for f, (typ, meaning) in KARPENTER_NODE_POOL_FIELDS.items():
        lines.append(f"| `{f}` | {typ} | {inline(defaults[f])} | {meaning} |")
    return [*lines, ""]


OBJECT_FIELDS: Mapping[str, Callable[[], list[str]]] = {
    "nodeGroups": _node_group_fields,
    "ciliumExtraValues": _cilium_extra_values_fields,
    "karpenterNodePools": _karpenter_node_pool_fields,
}


def configuration_section() -> str:
    project = project_name()
    stacks = stack_values()
    names = list(stacks)
    missing = [k.name for k in CONFIG_KEYS if k.type == "object" and k.name not in OBJECT_FIELDS]
    if missing:
        raise DocsError(f"object-valued keys without a field description in tooling/docs/configuration.py: "
                        f"{missing}")

    lines = [
        f"Generated from `CONFIG_KEYS` in `cilium_eks/config/keys.py` and the committed stack files "
        f"({', '.join(f'`Pulumi.{s}.yaml`' for s in names)}). Keys are set per stack, namespaced with the "
        f"project: `pulumi config set {project}:<key> <value>` or in the stack file.",
        "",
        "## Summary",
        "",
        f"| Key | Type | Default | {' | '.join(names)} |",
        f"|---|---|---|{'---|' * len(names)}",
    ]
    region_row = ["`aws:region`", "string", "— (required)"]
    region_row += [inline(stacks[s].get("aws:region")) for s in names]
    lines.append("| " + " | ".join(region_row) + " |")
    for key in CONFIG_KEYS:
        row = [f"[`{key.name}`](#{key.name.lower()})", key.type, inline(key.default)]
        for s in names:
            full = f"{project}:{key.name}"
            row.append(inline(stacks[s][full]) if full in stacks[s] else "default")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Keys", ""]
    lines += ["### `aws:region`", "",
              "The AWS region of every resource (the AWS provider's key, not this project's). Required; any region "
              "with at least 2 availability zones.", ""]
    for key in CONFIG_KEYS:
        default = inline(key.default)
        lines += [f"### `{key.name}`", "", f"Type `{key.type}`, default{':' if default == 'see below' else ''} "
                  f"{default}."
                  + (f" One of: {', '.join(f'`{c}`' for c in key.choices)}." if key.choices else ""), "",
                  key.description, ""]
        if key.name in OBJECT_FIELDS:
            lines += OBJECT_FIELDS[key.name]()
        lines += _structured(key, stacks, project)
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------
# docs/upgrading.md
# --------------------------------------------------------------------------------------

