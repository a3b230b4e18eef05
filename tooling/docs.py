"""Living docs: the generated sections of docs/ come from the code and are checked in sync.

    python -m tooling.docs           # rewrite the generated sections of docs/*.md
    python -m tooling.docs --check   # exit 1 naming every file whose generated section is stale

Only the text between ``<!-- BEGIN GENERATED <name> ... -->`` and ``<!-- END GENERATED <name> -->``
is written; everything around it is hand-written and kept. Generated today:

* docs/architecture.md, section ``dependency-graph``: the dev stack's plan (Mermaid graph, waves,
  critical path, ordering checks), from ``tooling.plan`` on the real program.
* docs/configuration.md, section ``reference``: every key of ``CONFIG_KEYS`` with its type,
  default, value in each committed stack and meaning, and the fields of the object-valued keys.
* docs/upgrading.md, section ``versions``: the Kubernetes and Cilium versions the validator
  accepts and what each stack pins.

Exit codes: 0 ok (or up to date), 1 stale (--check) or a doc without its markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from cilium_eks.cilium import MIN_VERSION as MIN_CILIUM_VERSION
from cilium_eks.cilium import NEWEST_MINOR as NEWEST_CILIUM_MINOR
from cilium_eks.cilium import OWNED_VALUES as PROGRAM_OWNED_CILIUM_VALUES
from cilium_eks.cilium import REMOVED_VALUES as REMOVED_CILIUM_VALUES
from cilium_eks.config import CONFIG_KEYS, CONFIG_KEYS_BY_NAME, DEFAULT_NODE_GROUPS, ConfigKey
from cilium_eks.eks import CAPACITY_TYPES, SUPPORTED_KUBERNETES_VERSIONS

from . import plan as plan_mod
from .paths import PROJECT_DIR
from .plan import make_plan
from .plan.diagram import render_mermaid
from .stackfiles import project_name, stack_config, stack_files

DOCS_DIR = PROJECT_DIR / "docs"
ARCHITECTURE_STACK = "dev"
REGENERATE = "python -m tooling.docs"

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


class DocsError(Exception):
    """A doc that cannot be generated (markers missing, facts out of step with the code)."""


# --------------------------------------------------------------------------------------
# Markers
# --------------------------------------------------------------------------------------


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: `{REGENERATE}` writes this section; do not edit by hand -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def render(text: str, name: str, content: str) -> str:
    """`text` with the generated section `name` replaced by `content`."""
    pattern = re.compile(rf"(<!-- BEGIN GENERATED {re.escape(name)}[: ].*?-->\n)(.*?)(<!-- END GENERATED "
                         rf"{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise DocsError(f"no generated section '{name}': add the lines\n{begin_marker(name)}\n{end_marker(name)}")
    body = content if content.endswith("\n") else content + "\n"
    return pattern.sub(lambda m: begin_marker(name) + "\n" + body + m.group(3), text, count=1)


# --------------------------------------------------------------------------------------
# docs/architecture.md
# --------------------------------------------------------------------------------------


def architecture_section(plan: plan_mod.Plan | None = None) -> str:
    p = plan or make_plan(ARCHITECTURE_STACK)
    stack = p.graph.stack
    lines = [
        f"Generated from `Pulumi.{stack}.yaml`: the real `__main__.py` evaluated offline under the mock engine "
        f"(`python -m tooling.plan --stack {stack}` shows the same, with the Cilium values and outputs).",
        "An arrow A → B means B waits for A; dotted arrows are `depends_on` (no data links the two). "
        "Waits implied by another wait are left out. Outlined: slow steps; shaded: the critical path.",
        "",
        "```mermaid",
        render_mermaid(p).rstrip("\n"),
        "```",
        "",
        "| Wave | Created in parallel |",
        "|---|---|",
    ]
    for i, wave in enumerate(p.waves, start=1):
        cells = []
        for urn in wave:
            s = p.steps[urn]
            slow = f" ({plan_mod.fmt_seconds(s.seconds)})" if s.seconds >= plan_mod.SLOW_THRESHOLD_SECONDS else ""
            cells.append(f"`{s.label}`{slow}")
        lines.append(f"| {i} | {', '.join(cells)} |")
    path = " → ".join(
        f"`{p.steps[u].label}`" + (f" ({plan_mod.fmt_seconds(p.steps[u].seconds)})"
                                   if p.steps[u].seconds >= plan_mod.SLOW_THRESHOLD_SECONDS else "")
        for u in p.critical_path)
    lines += [
        "",
        f"Critical path, {plan_mod.fmt_seconds(p.total_seconds)} with rough AWS timings: {path}.",
        "",
        "Ordering checks computed from the graph:",
        "",
        *[f"- {'ok' if c.ok else '**WARNING**'}: {c.text}" for c in p.checks],
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# docs/configuration.md
# --------------------------------------------------------------------------------------


def _inline(value: Any) -> str:
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


def _stack_values(project: str) -> dict[str, dict[str, Any]]:
    return {stack: stack_config(stack) for stack in stack_files()}


def _structured(key: ConfigKey, stacks: Mapping[str, Mapping[str, Any]], project: str) -> list[str]:
    """YAML blocks for the default and stack values that do not fit in a table cell."""
    out: list[str] = []
    blocks = [("default", key.default), *((s, cfg.get(f"{project}:{key.name}")) for s, cfg in stacks.items())]
    for label, value in blocks:
        if isinstance(value, dict | list) and _inline(value) == "see below":
            out += [f"{label}:", "", "```yaml", yaml.safe_dump({key.name: value}, sort_keys=False).rstrip("\n"),
                    "```", ""]
    return out


def _node_group_fields() -> list[str]:
    defaults = DEFAULT_NODE_GROUPS["general"]
    if set(defaults) != set(NODE_GROUP_FIELDS):
        raise DocsError(f"nodeGroups fields changed in cilium_eks/config/keys.py: documented "
                        f"{sorted(NODE_GROUP_FIELDS)}, validated {sorted(defaults)}; update NODE_GROUP_FIELDS in "
                        "tooling/docs.py")
    lines = ["Each entry is `<group name>: {fields}`; the name (1-20 lower-case letters, digits, dashes) becomes "
             "part of AWS names. A field left out takes its default.", "",
             "| Field | Type | Default | Meaning |", "|---|---|---|---|"]
    for f, (typ, meaning) in NODE_GROUP_FIELDS.items():
        lines.append(f"| `{f}` | {typ} | {_inline(defaults[f])} | {meaning} |")
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


OBJECT_FIELDS: Mapping[str, Callable[[], list[str]]] = {
    "nodeGroups": _node_group_fields,
    "ciliumExtraValues": _cilium_extra_values_fields,
}


def configuration_section() -> str:
    project = project_name()
    stacks = _stack_values(project)
    names = list(stacks)
    missing = [k.name for k in CONFIG_KEYS if k.type == "object" and k.name not in OBJECT_FIELDS]
    if missing:
        raise DocsError(f"object-valued keys without a field description in tooling/docs.py: {missing}")

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
    region_row += [_inline(stacks[s].get("aws:region")) for s in names]
    lines.append("| " + " | ".join(region_row) + " |")
    for key in CONFIG_KEYS:
        row = [f"[`{key.name}`](#{key.name.lower()})", key.type, _inline(key.default)]
        for s in names:
            full = f"{project}:{key.name}"
            row.append(_inline(stacks[s][full]) if full in stacks[s] else "default")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Keys", ""]
    lines += ["### `aws:region`", "",
              "The AWS region of every resource (the AWS provider's key, not this project's). Required; any region "
              "with at least 2 availability zones.", ""]
    for key in CONFIG_KEYS:
        default = _inline(key.default)
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


def versions_section() -> str:
    project = project_name()
    stacks = _stack_values(project)
    lo = ".".join(map(str, MIN_CILIUM_VERSION))
    hi = ".".join(map(str, NEWEST_CILIUM_MINOR))
    lines = [
        "What `cilium_eks/config` accepts today, and what each committed stack pins:",
        "",
        f"- `kubernetesVersion`: one of {', '.join(f'`{v}`' for v in SUPPORTED_KUBERNETES_VERSIONS)} "
        f"(default `{CONFIG_KEYS_BY_NAME['kubernetesVersion'].default}`).",
        f"- `ciliumVersion`: an exact `x.y.z` from `{lo}` up to the newest checked minor, `{hi}.x` "
        f"(default `{CONFIG_KEYS_BY_NAME['ciliumVersion'].default}`).",
        "",
        "| Stack | kubernetesVersion | ciliumVersion |",
        "|---|---|---|",
    ]
    for stack, cfg in stacks.items():
        k8s = cfg.get(f"{project}:kubernetesVersion", CONFIG_KEYS_BY_NAME["kubernetesVersion"].default)
        cilium = cfg.get(f"{project}:ciliumVersion", CONFIG_KEYS_BY_NAME["ciliumVersion"].default)
        lines.append(f"| {stack} | `{k8s}` | `{cilium}` |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Regeneration and the sync check
# --------------------------------------------------------------------------------------


def generators() -> dict[str, dict[str, Callable[[], str]]]:
    """doc file -> {section name -> content}."""
    return {
        "architecture.md": {"dependency-graph": architecture_section},
        "configuration.md": {"reference": configuration_section},
        "upgrading.md": {"versions": versions_section},
    }


def generate(docs_dir: Path = DOCS_DIR) -> dict[Path, tuple[str, str]]:
    """Every generated doc: path -> (text on disk, text it should have)."""
    out: dict[Path, tuple[str, str]] = {}
    for filename, sections in generators().items():
        path = docs_dir / filename
        if not path.exists():
            raise DocsError(f"{path} is missing; it holds hand-written text around the generated sections")
        current = path.read_text()
        wanted = current
        for name, make in sections.items():
            wanted = render(wanted, name, make())
        out[path] = (current, wanted)
    return out


def stale(docs_dir: Path = DOCS_DIR) -> list[Path]:
    return [path for path, (current, wanted) in generate(docs_dir).items() if current != wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.docs",
                                     description="Regenerate (or --check) the generated sections of docs/.")
    parser.add_argument("--check", action="store_true", help="only report stale docs; exit 1 if any")
    parser.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        docs = generate(args.docs_dir)
    except DocsError as e:
        print(str(e), file=sys.stderr)
        return 1
    changed = [path for path, (current, wanted) in docs.items() if current != wanted]
    if args.check:
        for path in changed:
            print(f"{path} is out of date with the code: run `{REGENERATE}`", file=sys.stderr)
        return 1 if changed else 0
    for path in changed:
        path.write_text(docs[path][1])
        print(f"updated {path}", file=sys.stderr)
    if not changed:
        print("docs are up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
