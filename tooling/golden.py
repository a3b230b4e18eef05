"""Golden files: every stack's resource graph and final Cilium values, reviewed in diffs.

    python -m tooling.golden          # rewrite tests/golden/ from a fresh evaluation
    python -m tooling.golden --check  # exit 1 naming every stale, missing or orphaned file

For each committed stack, and for a few named variants that take the program's other
branches (kube-proxy replacement, aws-node deletion, an adopted VPC, an internal Hubble
load balancer with the L3/L4 demo policy, ENI prefix delegation), the mock engine runs the
real ``__main__.py`` and two files are written:

* ``<name>.graph.json``: every resource (URN, type, custom/remote/synthetic, parent,
  provider, inputs, dependencies, dependencies per property, options) and the stack outputs,
  in a canonical form: keys sorted, dependencies sorted, a resource reference as
  ``{"$ref": urn}``, a secret as ``{"$secret": value}``, an unknown as ``"$unknown"``.
* ``<name>.cilium-values.yaml``: the Cilium release's values as the plan shows them.

A change to the program changes these files; ``tests/test_golden.py`` fails until they are
rewritten, so every change to what ``pulumi up`` would receive shows up in review as a diff.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .mockengine import UNKNOWN, Graph, ResourceRef, Secret, run_program
from .paths import PROJECT_DIR
from .plan import cilium_values
from .stackfiles import stack_files

GOLDEN_DIR = PROJECT_DIR / "tests" / "golden"
GRAPH_SUFFIX = ".graph.json"
VALUES_SUFFIX = ".cilium-values.yaml"

#: Named variants of a committed stack: (stack, config overrides). Each takes a branch of
#: the program that no committed stack takes.
VARIANTS: Mapping[str, tuple[str, Mapping[str, Any]]] = MappingProxyType({
    "dev-kube-proxy-replacement": ("dev", {"ciliumKubeProxyReplacement": True}),
    "dev-aws-node-delete": ("dev", {"awsNodeMode": "delete"}),
    "dev-existing-vpc": ("dev", {
        "existingVpcId": "vpc-0123456789abcdef0",
        "existingPrivateSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    }),
    "dev-internal-lb-l3l4": ("dev", {"hubbleUiAccess": "internal-load-balancer", "demoPolicy": "l3l4"}),
    # No committed stack takes it (cilium/cilium#47910 on 1.20.0): the nodes' max pods follow it.
    "dev-prefix-delegation": ("dev", {"ciliumPrefixDelegation": True}),
})


def cases(project_dir: Path = PROJECT_DIR) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Every golden case by name: each committed stack as it is, then the variants."""
    out: dict[str, tuple[str, Mapping[str, Any]]] = {stack: (stack, {}) for stack in stack_files(project_dir)}
    for name, case in VARIANTS.items():
        if name in out:
            raise ValueError(f"golden variant {name!r} has the name of a committed stack")
        out[name] = case
    return out


def canonical(value: Any) -> Any:
    """A recorded value as plain JSON data: maps sorted, references, secrets and unknowns marked."""
    if isinstance(value, ResourceRef):
        return {"$ref": value.urn}
    if isinstance(value, Secret):
        return {"$secret": canonical(value.value)}
    if value is UNKNOWN:
        return "$unknown"
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def graph_document(graph: Graph) -> dict[str, Any]:
    """The canonical form of a recorded graph: resources sorted by URN, then the stack outputs."""
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            "custom": r.custom,
            "remote": r.remote,
            "synthetic": r.synthetic,
            "parent": r.parent,
            "provider": r.provider,
            "inputs": canonical(r.inputs),
            "dependencies": sorted(r.dependencies),
            "property_dependencies": {k: sorted(v) for k, v in sorted(r.property_dependencies.items())},
            "options": canonical(r.options),
        }
        for r in sorted(graph, key=lambda r: r.urn)
    ]
    return {"resources": resources, "outputs": canonical(graph.outputs)}


def graph_text(graph: Graph) -> str:
    return json.dumps(graph_document(graph), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def values_text(graph: Graph) -> str:
    values = cilium_values(graph)
    if values is None:
        raise ValueError(f"stack {graph.stack!r} does not declare exactly one Cilium release")
    return yaml.safe_dump(canonical(values), sort_keys=True, default_flow_style=False, allow_unicode=True)


def changes(expected: str, actual: str) -> list[str]:
    """What differs between two graph files, one line per resource or output (for a reader
    who wants to know where to look in the diff)."""
    try:
        old, new = json.loads(expected), json.loads(actual)
    except json.JSONDecodeError:
        return ["not a graph file"]
    before = {r["urn"]: r for r in old.get("resources", [])}
    after = {r["urn"]: r for r in new.get("resources", [])}
    out = [f"{'added' if urn not in before else 'removed' if urn not in after else 'changed'} {urn}"
           for urn in sorted(before.keys() | after.keys()) if before.get(urn) != after.get(urn)]
    outputs_old, outputs_new = old.get("outputs", {}), new.get("outputs", {})
    out += [f"output {key}" for key in sorted(outputs_old.keys() | outputs_new.keys())
            if outputs_old.get(key) != outputs_new.get(key)]
    return out


def render_case(stack: str, overrides: Mapping[str, Any]) -> tuple[str, str]:
    """(graph JSON, Cilium values YAML) of one case, from a fresh evaluation of the program."""
    graph = run_program(stack, overrides=dict(overrides))
    return graph_text(graph), values_text(graph)


def render(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """File name -> content of every golden file."""
    out: dict[str, str] = {}
    for name, (stack, overrides) in cases(project_dir).items():
        out[name + GRAPH_SUFFIX], out[name + VALUES_SUFFIX] = render_case(stack, overrides)
    return out


def managed_files(directory: Path = GOLDEN_DIR) -> dict[str, str]:
    """The golden files present on disk (other files there, such as a README, are left alone)."""
    if not directory.is_dir():
        return {}
    return {p.name: p.read_text() for p in sorted(directory.iterdir())
            if p.is_file() and p.name.endswith((GRAPH_SUFFIX, VALUES_SUFFIX))}


def stale(want: Mapping[str, str], directory: Path = GOLDEN_DIR) -> list[str]:
    """Golden files that are missing, different or no longer produced."""
    have = managed_files(directory)
    return sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))


def write(want: Mapping[str, str], directory: Path = GOLDEN_DIR) -> list[str]:
    changed = stale(want, directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        target = directory / name
        if name in want:
            target.write_text(want[name])
        else:
            target.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tooling.golden",
        description="Rewrite or check the golden graphs and Cilium values in tests/golden/.")
    parser.add_argument("--check", action="store_true", help="only report stale golden files; exit 1 if any")
    args = parser.parse_args(argv)
    directory = GOLDEN_DIR
    want = render()
    where = directory.relative_to(PROJECT_DIR).as_posix() if directory.is_relative_to(PROJECT_DIR) else str(directory)
    if args.check:
        have = managed_files(directory)
        names = stale(want, directory)
        for name in names:
            why = "missing" if name not in have else "no longer produced" if name not in want else "stale"
            print(f"{where}/{name} is {why}: run `python -m tooling.golden` and review the diff", file=sys.stderr)
            if why == "stale" and name.endswith(GRAPH_SUFFIX):
                for line in changes(have[name], want[name]):
                    print(f"  {line}", file=sys.stderr)
        return 1 if names else 0
    for name in write(want, directory):
        print(f"{'updated' if name in want else 'removed'} {where}/{name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
