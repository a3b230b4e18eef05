"""The pip-format requirement files, exported from uv.lock (the one place versions are pinned).

    python -m tooling.requirements          # rewrite requirements.txt and policies/requirements.txt
    python -m tooling.requirements --check  # exit 1 naming every file that differs from uv.lock

``requirements.txt``: what `pulumi up` needs, for pip users (`pip install -r requirements.txt`
installs the pinned SDKs and this project, editable). ``policies/requirements.txt``: what the
policy pack needs on its own (`pulumi install` in policies/, and consumers of a published pack).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .paths import PROJECT_DIR

#: file -> the `uv export` arguments that produce it (paths relative to the project).
EXPORTS: dict[str, list[str]] = {
    "requirements.txt": ["--no-dev"],
    "policies/requirements.txt": ["--only-group", "policy-pack", "--no-emit-project"],
}


def uv() -> str:
    return str(Path(sys.executable).parent / "uv")


def exported(name: str, project_dir: Path = PROJECT_DIR) -> str:
    """What `uv export` writes for ``name`` from the committed uv.lock (no network)."""
    args = ["export", "--frozen", "--no-hashes", "--format", "requirements-txt", *EXPORTS[name]]
    done = subprocess.run([uv(), *args, "--quiet"], cwd=project_dir, capture_output=True, text=True, check=True)
    # uv's own header names a temporary command line; ours names the one to run.
    body = [ln for ln in done.stdout.splitlines() if not ln.startswith(("# This file", "#    uv "))]
    header = f"# Generated from uv.lock by `python -m tooling.requirements` (uv {' '.join(args)}); do not edit.\n"
    return header + "\n".join(body).strip("\n") + "\n"


def stale(project_dir: Path = PROJECT_DIR) -> list[str]:
    return [name for name in EXPORTS
            if not (project_dir / name).is_file() or (project_dir / name).read_text() != exported(name, project_dir)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.requirements",
                                     description="Export the pip requirement files from uv.lock, or --check them.")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    names = stale()
    if args.check:
        for name in names:
            print(f"{name} differs from uv.lock: run `python -m tooling.requirements`", file=sys.stderr)
        return 1 if names else 0
    for name in names:
        (PROJECT_DIR / name).write_text(exported(name))
        print(f"updated {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
