"""The committed stacks as the CLI needs them: name, region, environment, aws-node mode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cilium_eks.config import CONFIG_KEYS_BY_NAME

from ..stackfiles import project_name, stack_config, stack_files

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UsageError(Exception):
    """Bad arguments or an unknown stack (exit 2)."""


@dataclass(frozen=True)
class StackInfo:
    stack: str
    region: str
    environment: str
    aws_node_mode: str
    runner: tuple[str, ...] = ("ubuntu-latest",)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def deploy_environment(self) -> str:
        """The GitHub environment whose secrets decrypt this stack's state for `up`: production
        stacks share the protected `production` one (required reviewers, main only)."""
        return "production" if self.production else self.stack

    @property
    def preview_environment(self) -> str:
        """The GitHub environment of pull-request previews: production state is decrypted only in
        `production-preview`, which a reviewer approves (`production` admits main alone)."""
        return "production-preview" if self.production else self.stack

    def ci_entry(self) -> dict[str, object]:
        """One entry of the CI matrices (`list --json`)."""
        return {"stack": self.stack, "region": self.region, "environment": self.environment,
                "deploy_environment": self.deploy_environment, "preview_environment": self.preview_environment,
                "runner": list(self.runner)}


def _setting(config: dict[str, Any], project: str, key: str) -> str:
    value = config.get(f"{project}:{key}", CONFIG_KEYS_BY_NAME[key].default)
    return value if isinstance(value, str) else str(value)


def stack_info(project_dir: Path, stack: str) -> StackInfo:
    files = stack_files(project_dir)
    if stack not in files:
        known = ", ".join(files) or "none"
        raise UsageError(f"unknown stack '{stack}': there is no Pulumi.{stack}.yaml in {project_dir} "
                         f"(stacks: {known}). Use --stack with one of them.")
    if not STACK_NAME.match(stack):
        raise UsageError(f"stack name '{stack}' (from Pulumi.{stack}.yaml) is not a valid Pulumi stack name: "
                         "use letters, digits, '.', '-' and '_'")
    config = stack_config(stack, project_dir)
    project = project_name(project_dir)
    region = config.get("aws:region", "")
    runner = config.get(f"{project}:deployRunner", CONFIG_KEYS_BY_NAME["deployRunner"].default)
    return StackInfo(stack=stack, region=region if isinstance(region, str) else str(region),
                     environment=_setting(config, project, "environment"),
                     aws_node_mode=_setting(config, project, "awsNodeMode"),
                     runner=tuple(str(r) for r in (runner if isinstance(runner, list) else [runner])))


def all_stacks(project_dir: Path, select: str = "all") -> list[StackInfo]:
    infos = [stack_info(project_dir, name) for name in stack_files(project_dir)]
    if select == "production":
        return [i for i in infos if i.production]
    if select == "non-production":
        return [i for i in infos if not i.production]
    return infos
