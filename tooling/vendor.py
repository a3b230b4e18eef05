"""The policy pack's copy of the product core.

    python -m tooling.vendor          # rewrite policies/guardrails/core/ from cilium_eks/
    python -m tooling.vendor --check  # exit 1 naming every file that differs

The pack must run (and ``pulumi policy publish`` upload it) without this project on the path,
yet its rules must use the same facts as the program: the taint, the aws-node selector, the
operator's IAM actions, the ordering rules, the config validator. So it carries
``cilium_eks`` as a byte-for-byte copy under ``guardrails/core`` (the core only imports
itself relatively, so the copy works under any package name). Edit ``cilium_eks/``, then run
this; a test fails while the copy differs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .paths import PROJECT_DIR

SOURCE = PROJECT_DIR / "cilium_eks"
COPY = PROJECT_DIR / "policies" / "guardrails" / "core"
#: What is copied: the core's code and the data files it reads.
PATTERNS = ("*.py", "*.json")
MARKER = "GENERATED.md"
MARKER_TEXT = (
    "# Generated: do not edit\n\n"
    "A copy of the project's `cilium_eks/` package (the Pulumi-free product core), so that this policy\n"
    "pack runs and publishes on its own. Edit `cilium_eks/` and run `python -m tooling.vendor`;\n"
    "`tests/test_layout.py` fails while the two differ.\n"
)


def source_files(source: Path = SOURCE) -> dict[str, bytes]:
    """Relative path -> content of every file the copy must hold."""
    out: dict[str, bytes] = {}
    for pattern in PATTERNS:
        for path in source.rglob(pattern):
            if "__pycache__" not in path.parts:
                out[path.relative_to(source).as_posix()] = path.read_bytes()
    out[MARKER] = MARKER_TEXT.encode()
    return dict(sorted(out.items()))


def copy_files(copy: Path = COPY) -> dict[str, bytes]:
    if not copy.is_dir():
        return {}
    return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def drift(source: Path = SOURCE, copy: Path = COPY) -> list[str]:
    """Files that are missing, extra or different in the copy."""
    want, have = source_files(source), copy_files(copy)
    return sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))


def write(source: Path = SOURCE, copy: Path = COPY) -> list[str]:
    changed = drift(source, copy)
    if changed:
        if copy.exists():
            shutil.rmtree(copy)
        for name, content in source_files(source).items():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.vendor",
                                     description="Rewrite or check the policy pack's copy of cilium_eks.")
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for name in stale:
            print(f"policies/guardrails/core/{name} differs from cilium_eks/: run `python -m tooling.vendor`",
                  file=sys.stderr)
        return 1 if stale else 0
    for name in write():
        print(f"updated policies/guardrails/core/{name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
