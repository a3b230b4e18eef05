"""The command line of ``python -m tooling.docs`` (usage and exit codes: the package docstring)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .markers import REGENERATE, DocsError
from .pulumi_yaml import PULUMI_YAML
from .sync import DOCS_DIR, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.docs",
                                     description="Regenerate (or --check) the generated sections of docs/ and "
                                                 "the config block of Pulumi.yaml.")
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    parser.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--pulumi-yaml", type=Path, default=PULUMI_YAML, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        docs = generate(args.docs_dir, args.pulumi_yaml)
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
