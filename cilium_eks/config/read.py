"""Reading the running stack's configuration, inside a Pulumi program.

The only module of this package that touches the Pulumi SDK, and only when called: the
policy pack's copy of the package never calls it.
"""

from __future__ import annotations

from typing import Any

from .model import StackConfig
from .validate import parse_config


def read_stack_config() -> StackConfig:
    """Read the running stack's configuration once; raises ``ConfigError`` with every problem that
    stops this run (``deploy`` problems stop `pulumi up` only), and logs the rest as warnings."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    project = pulumi.get_project()
    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    cfg = parse_config(raw, project=project, stack=pulumi.get_stack(), region=raw.get("aws:region"),
                       deploying=not pulumi.runtime.is_dry_run())
    for problem in cfg.warnings:
        pulumi.log.warn(f"{'refused by `pulumi up`: ' if problem.severity == 'deploy' else ''}{problem}")
    return cfg
