#!/usr/bin/env python3
"""Bootstrap of every `make` target: the right Python, the pinned uv, then `.venv` synced to uv.lock.

    python3 scripts/stack.py install                      # .venv exactly as uv.lock says (`make install`)
    python3 scripts/stack.py <command> --stack NAME ...   # install, then `python -m tooling.cli <command> ...`

Standard library only: it runs before the virtual environment exists, and creates it. Every
dependency, the project itself (editable) and uv are pinned in uv.lock; this script only finds a
uv of the locked version to apply it:

1. `.venv/bin/uv`, when it is the locked version (every run after the first), else
2. a uv of that version installed once with pip into `.cache/uv-<version>/` (a fresh clone).

Then `uv sync --locked` creates or updates `.venv` (a no-op of ~0.1 s when nothing changed) and
refuses a uv.lock that no longer matches pyproject.toml. Everything else (the plan, prerequisites,
Pulumi, verify) lives in ``tooling/cli`` and runs inside `.venv`.

Exit codes: 0 ok; 1 the command failed; 2 usage error; 3 a prerequisite is missing (nothing was run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PREREQUISITES = 3


def python_problem(version: Sequence[int], executable: str) -> str | None:
    if tuple(version[:2]) >= MIN_PYTHON:
        return None
    found = ".".join(str(v) for v in version[:3])
    need = ".".join(str(v) for v in MIN_PYTHON)
    return (f"Python {need} or newer is needed, {executable} is Python {found}. Fix: install Python {need}+ "
            f"(https://www.python.org/downloads/, `brew install python@3.12`, `sudo apt-get install python3.12 "
            f"python3.12-venv`) and run again with it, e.g. `make test PYTHON=python3.12`")


def venv_module_problem(has_module: Mapping[str, bool]) -> str | None:
    missing = [m for m in ("venv", "ensurepip") if not has_module.get(m, False)]
    if not missing:
        return None
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return (f"this Python cannot create a virtual environment (module {' and '.join(missing)} missing). Fix: "
            f"install it: Debian/Ubuntu `sudo apt-get install python{minor}-venv`, Fedora `sudo dnf install "
            f"python3`; or run with another Python: `make test PYTHON=/path/to/python3`")


def _has_modules() -> dict[str, bool]:
    import importlib.util

    return {m: importlib.util.find_spec(m) is not None for m in ("venv", "ensurepip")}


def locked_uv_version(project_dir: Path) -> str:
    """The uv version uv.lock pins (uv is in the dev dependency group)."""
    lock = tomllib.loads((project_dir / "uv.lock").read_text(encoding="utf-8"))
    for package in lock.get("package", []):
        if package.get("name") == "uv":
            return str(package["version"])
    raise ValueError("uv.lock pins no `uv`: add `uv==<version>` to the dev group of pyproject.toml and run `uv lock`")


def uv_version(uv: Path) -> str | None:
    if not uv.exists():
        return None
    try:
        done = subprocess.run([str(uv), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[1] if done.returncode == 0 and len(words) > 1 else None


def find_uv(project_dir: Path, version: str) -> Path | None:
    """A uv binary of ``version``: the project's own, or one installed once into .cache/."""
    for candidate in (project_dir / ".venv" / "bin" / "uv", project_dir / ".cache" / f"uv-{version}" / "bin" / "uv"):
        if uv_version(candidate) == version:
            return candidate
    problems = [p for p in (python_problem(sys.version_info[:3], sys.executable),
                            venv_module_problem(_has_modules())) if p is not None]
    if problems:
        for p in problems:
            print(f"stack.py: cannot create the virtual environment: {p}", file=sys.stderr)
        return None
    tools = project_dir / ".cache" / f"uv-{version}"
    print(f"Installing uv {version} (pinned in uv.lock) into {tools} ...", file=sys.stderr)
    steps = [[sys.executable, "-m", "venv", str(tools)],
             [str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              f"uv=={version}"]]
    for step in steps:
        if subprocess.run(step, cwd=project_dir).returncode != 0:
            print(f"stack.py: `{' '.join(step)}` failed (see above); it needs access to PyPI.", file=sys.stderr)
            return None
    return tools / "bin" / "uv"


def ensure_env(project_dir: Path, env: Mapping[str, str]) -> int:
    """`.venv` synced to uv.lock with this Python; the project installed in it (editable)."""
    problem = python_problem(sys.version_info[:3], sys.executable)
    if problem is not None:
        print(f"stack.py: {problem}", file=sys.stderr)
        return EXIT_PREREQUISITES
    try:
        version = locked_uv_version(project_dir)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"stack.py: cannot read the pinned uv from uv.lock: {exc}", file=sys.stderr)
        return EXIT_FAILED
    uv = find_uv(project_dir, version)
    if uv is None:
        return EXIT_PREREQUISITES
    sync_env = {**env, "UV_PROJECT_ENVIRONMENT": str(project_dir / ".venv")}
    sync_env.pop("VIRTUAL_ENV", None)  # another activated venv must not redirect the sync
    sync = [str(uv), "sync", "--locked", "--quiet", "--python", sys.executable]
    if subprocess.run(sync, cwd=project_dir, env=sync_env).returncode != 0:
        print("stack.py: `uv sync --locked` failed (see above). If uv.lock is out of date with pyproject.toml, "
              "run `.venv/bin/uv lock` and commit uv.lock; otherwise it needs access to PyPI.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, env: MutableMapping[str, str] | None = None,
         project_dir: Path = PROJECT_DIR) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    code = ensure_env(project_dir, env)
    if code != EXIT_OK or args[:1] == ["install"]:
        return code
    python = project_dir / ".venv" / "bin" / "python"
    try:
        return subprocess.run([str(python), "-m", "tooling.cli", *args], cwd=project_dir, env=env).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
