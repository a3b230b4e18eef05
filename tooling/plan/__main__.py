"""Offline plan of a stack: what `pulumi up` would create, in which order, with which Cilium values.

    python -m tooling.plan --stack dev                        # the report, on stdout
    python -m tooling.plan --stack prod --format mermaid --output build/prod.mmd
    python -m tooling.plan --stack dev --format json --output build/dev.json
    python -m tooling.plan --stack dev --image svg --output build/dev.svg   # needs Graphviz `dot`
    python -m tooling.plan --stack prod --capacity-report build/prod-capacity.svg   # subnet use at maxSize
    python -m tooling.plan --stack dev --set ciliumKubeProxyReplacement=true   # what if

No AWS account and no Pulumi CLI: the real ``__main__.py`` runs under the project's one mock
engine (``tooling.mockengine``), exactly as the unit and policy tests run it, and the plan
is read from what the engine recorded. Invalid configuration fails here with the program's
own ``ConfigError`` (exit 2), as it would in ``pulumi up``; before that, the stack file is read
as Pulumi reads it (``tooling.stackfiles``: a file Pulumi would refuse exits 2 with its line), and
``ciliumExtraValues`` is held to the pinned chart's schema and keys when the chart's reference
data is on this machine (``tooling.chart_check``; without it the plan says so and goes on).

How the order is computed. Every custom resource this program declares is a *step*; a
pulumi-eks component (a remote component) is one step together with the resources its
provider creates inside it ("created by pulumi-eks"), which come up with it. A step waits for:
its data dependencies (an input uses another resource's output), its ``depends_on``, its
provider, the resources it passes by reference to pulumi-eks, and whatever its parent
components were told to wait for. Waiting for a component means waiting for every step in
it. Waves are the longest chain of waits before a step; the critical path weighs each step
with a rough AWS timing (``SLOW_STEPS``).

Exit codes: 0 ok, 2 invalid configuration, a stack file Pulumi would refuse, or usage; 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cilium_eks.config import ConfigError, parse_config

from ..chart_check import offline_chart_check
from ..stackfiles import StackFileError, parse_value, project_name, stack_files, stack_program_config
from .build import make_plan
from .capacity import capacity_report, capacity_svg
from .diagram import render_dot, render_mermaid
from .document import to_json
from .model import Plan, PlanError
from .text import render_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

FORMATS = ("text", "mermaid", "json")
IMAGE_FORMATS = ("png", "svg")


GRAPHVIZ_MISSING = (
    "--image needs Graphviz's `dot` on PATH, and it was not found.\n"
    "Install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `sudo dnf install graphviz` (Fedora), "
    "`brew install graphviz` (macOS), or see https://graphviz.org/download/.\n"
    "Without it, `--format mermaid` writes the same graph for GitHub or https://mermaid.live to draw."
)


def render_image(plan: Plan, fmt: str, path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise PlanError(GRAPHVIZ_MISSING)
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=render_dot(plan), text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise PlanError(f"Graphviz failed to render {path}: {proc.stderr.strip()}")


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        # Read as a stack file's value is (YAML 1.2, as Pulumi reads it): `no` stays text, `1.30` is 1.3.
        out[key] = parse_value(value) if value else ""
    return out


def check_config(stack: str, overrides: dict[str, Any]) -> list[str]:
    """The checks before the program runs: the stack file as Pulumi reads it, then the validator with
    the chart check when the reference data allows it. Raises StackFileError or ConfigError; returns
    the notes to print (the chart check missing, encrypted keys the plan cannot read)."""
    config = stack_program_config(stack, overrides=overrides)
    project = project_name()
    check, note = offline_chart_check(project, config.secret_keys)
    texts = config.texts()
    parse_config(texts, project=project, stack=stack, region=texts.get("aws:region"),
                 secret_keys=config.secret_keys, chart_check=check)
    notes = [*config.warnings, *([note] if note else [])]
    notes += [f"{key} is encrypted and this plan has no passphrase: planned with its default" for key in
              config.unreadable]
    return notes


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tooling.plan",
        description="Offline plan of a stack: component tree, creation waves, critical path, Cilium values and "
                    "outputs, from the real program under the mock engine (no AWS, no Pulumi CLI).")
    p.add_argument("--stack", default="dev", help="a committed Pulumi.<stack>.yaml (default: dev)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text report (stdout), Mermaid dependency graph, or JSON (default: text)")
    p.add_argument("--output", type=Path, default=None,
                   help="file for the mermaid/json document (default: stdout) or, with --image and the text "
                        "format, for the image (default: plan-<stack>.<png|svg>)")
    p.add_argument("--image", choices=IMAGE_FORMATS, default=None,
                   help="also draw the dependency graph with Graphviz `dot` (must be installed)")
    p.add_argument("--capacity-report", type=Path, default=None, metavar="FILE.svg",
                   help="also write an SVG chart of every private subnet's use at maxSize")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key for this plan only (value read as YAML), e.g. "
                        "--set ciliumKubeProxyReplacement=true; repeatable")
    return p


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 on usage errors, 0 for --help
        return int(e.code or 0) if isinstance(e.code, int | type(None)) else EXIT_USAGE

    stacks = stack_files()
    if args.stack not in stacks:
        print(f"unknown stack '{args.stack}': there is no Pulumi.{args.stack}.yaml. "
              f"Stacks: {', '.join(stacks) or 'none'}", file=sys.stderr)
        return EXIT_USAGE
    try:
        overrides = _parse_set(args.set)
    except ValueError as e:  # StackFileError included: a --set value that is not YAML
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    if args.image and shutil.which("dot") is None:
        print(GRAPHVIZ_MISSING, file=sys.stderr)
        return EXIT_FAILED

    try:
        for note in check_config(args.stack, overrides):
            print(f"note: {note}", file=sys.stderr)
        plan = make_plan(args.stack, overrides)
    except (ConfigError, StackFileError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        print(f"plan of stack '{args.stack}' failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED

    try:
        if args.format == "text":
            sys.stdout.write(render_text(plan))
        else:
            doc = render_mermaid(plan) if args.format == "mermaid" else json.dumps(to_json(plan), indent=2) + "\n"
            if args.output is None:
                sys.stdout.write(doc)
            else:
                _write(args.output, doc)
        if args.capacity_report is not None:
            _write(args.capacity_report, capacity_svg(capacity_report(plan.config), f"stack {args.stack}"))
        if args.image:
            if args.output is None:
                target = Path(f"plan-{args.stack}.{args.image}")
            elif args.format == "text":
                target = args.output
            else:
                target = args.output.with_suffix(f".{args.image}")
            render_image(plan, args.image, target)
            print(f"wrote {target}", file=sys.stderr)
    except (PlanError, OSError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
