"""The stack CLI behind `make plan|doctor|preview|up|destroy|verify` (``scripts/stack.py``
prepares ``.venv`` and hands over to this module).

    python -m tooling.cli plan    --stack dev [--format text|mermaid|json] [--output PATH] [--set K=V]
    python -m tooling.cli doctor  --stack dev          # what a real deployment still needs
    python -m tooling.cli preview --stack dev [pulumi flags...]
    python -m tooling.cli up      --stack dev [pulumi flags, e.g. --yes]
    python -m tooling.cli destroy --stack dev [pulumi flags]
    python -m tooling.cli verify  --stack dev [verify flags]
    python -m tooling.cli list [--json] [--select all|production|non-production]

State: unless PULUMI_BACKEND_URL is set (or Pulumi.yaml names a `backend.url`), the state lives in
the project, in `.pulumi-state/` (a file:// backend, ignored by git), and stack secrets are
encrypted with a passphrase (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE). Stacks
are created on first use (`pulumi stack select --create`).

Exit codes: 0 ok; 1 the command failed; 2 usage error, unknown stack, a stack file Pulumi would
refuse (its line is named), or bad config (from plan); 3 a prerequisite is missing (nothing was run).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path

from ..paths import PROJECT_DIR
from ..stackfiles import StackFileError
from .commands import EXIT_OK, EXIT_USAGE, Out, cmd_doctor, cmd_list, cmd_pulumi, cmd_verify, run_module
from .stacks import UsageError, stack_info

PASS_THROUGH = ("plan", "preview", "up", "destroy", "verify")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stack.py", allow_abbrev=False,
                                     description="Plan, preview, deploy and verify a stack of this project.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("plan", "offline plan (no AWS, no Pulumi CLI)"),
                       ("doctor", "check what a real deployment still needs"),
                       ("preview", "pulumi preview"), ("up", "pulumi up"), ("destroy", "pulumi destroy"),
                       ("verify", "check the running cluster")):
        p = sub.add_parser(name, help=text, allow_abbrev=False)
        p.add_argument("--stack", "-s", required=True, help="stack name: Pulumi.<stack>.yaml must exist")
    lst = sub.add_parser("list", help="the committed stacks", allow_abbrev=False)
    lst.add_argument("--json", action="store_true", help="a JSON list of {stack, region, environment}")
    lst.add_argument("--select", choices=("all", "production", "non-production"), default="all")
    return parser


def main(argv: Sequence[str] | None = None, *, env: MutableMapping[str, str] | None = None,
         project_dir: Path = PROJECT_DIR) -> int:
    env = dict(os.environ if env is None else env)
    out = Out()
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        if extra and args.command not in PASS_THROUGH:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse already printed the usage
        return EXIT_USAGE if exc.code else EXIT_OK
    command: str = args.command
    try:
        if command == "list":
            return cmd_list(project_dir, args.json, args.select, out)
        info = stack_info(project_dir, args.stack)
        if command == "plan":
            return run_module("tooling.plan", ["--stack", info.stack, *extra], project_dir, env)
        if command == "doctor":
            return cmd_doctor(info, project_dir, env, out)
        if command == "verify":
            return cmd_verify(info, extra, project_dir, env, out)
        return cmd_pulumi(command, info, extra, project_dir, env, out)
    except UsageError as exc:
        out.err(f"stack.py: {exc}")
        return EXIT_USAGE
    except StackFileError as exc:  # a stack file Pulumi would refuse (or read otherwise than it looks)
        out.err(f"stack.py: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
