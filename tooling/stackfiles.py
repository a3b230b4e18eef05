"""The project file and the stack files, read for the tooling (plan, docs, tests, CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .paths import PROJECT_DIR


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def stack_files(project_dir: Path = PROJECT_DIR) -> dict[str, Path]:
    """Every committed stack file, by stack name."""
    return {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted(project_dir.glob("Pulumi.*.yaml"))}


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_files(project_dir)) or "none"
        raise FileNotFoundError(f"no stack file Pulumi.{stack}.yaml (stacks: {known})")
    return dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})
