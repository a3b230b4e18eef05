"""Running a Pulumi program (the project's ``__main__.py``, or any function) under the
recording mock engine."""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..paths import PROJECT_DIR
from ..stackfiles import project_name, stack_config
from .graph import Graph
from .monitor import RecordingMonitor
from .providers import EngineMocks


def _as_config_string(value: Any) -> str:
    """What the Pulumi CLI hands a program: strings as-is, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "<secret>"
    return json.dumps(value)


def run(program: Callable[[], None], *, project: str, stack: str, config: Mapping[str, Any] | None = None,
        cwd: Path | None = None, on_monitor: Callable[[RecordingMonitor], None] | None = None,
        preview: bool = True) -> Graph:
    """Evaluate ``program`` as the Pulumi language host would, under the mock engine.

    ``config`` holds fully namespaced keys (``aws:region``, ``<project>:<key>``) with values
    as a stack file holds them. ``preview`` (default) evaluates it as `pulumi preview` does,
    ``preview=False`` as `pulumi up` (the program refuses more then). Raises whatever the
    program raises. ``on_monitor`` receives the recording monitor before the program runs, so a
    caller can inspect what was declared even when it fails.
    """
    import pulumi
    from pulumi.runtime import settings as rt_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    raw = dict(config or {})
    region = str(raw.get("aws:region", "us-east-1"))
    mocks = EngineMocks(region, project, stack)
    monitor = RecordingMonitor(mocks)
    if on_monitor is not None:
        on_monitor(monitor)

    # EngineMocks has the methods of pulumi's Mocks (new_resource, call) without subclassing it.
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)  # pyright: ignore[reportArgumentType]
    set_all_config({k: _as_config_string(v) for k, v in raw.items()},
                   [k for k, v in raw.items() if isinstance(v, dict) and set(v) == {"secure"}])
    # set_mocks registers a bare root stack; run the program in a fresh one, as the
    # language host does, so `pulumi.export` reaches the monitor.
    rt_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]  # None resets it; the SDK's hint omits it
    previous = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        _sync_await(run_in_stack(program))
    finally:
        os.chdir(previous)
        rt_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]  # None resets it (see above)

    return Graph(project=project, stack=stack, resources=dict(monitor.recorded),
                 outputs=dict(monitor.stack_outputs), stack_urn=monitor.stack_urn)


def namespaced(raw: Mapping[str, Any], project: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A stack's config with ``overrides`` on top; keys without a namespace get the project's."""
    out = dict(raw)
    for k, v in (overrides or {}).items():
        out[k if ":" in k else f"{project}:{k}"] = v
    return out


def run_program(stack: str, *, config: Mapping[str, Any] | None = None,
                project_dir: Path = PROJECT_DIR, overrides: Mapping[str, Any] | None = None,
                on_monitor: Callable[[RecordingMonitor], None] | None = None, preview: bool = True) -> Graph:
    """Evaluate the project's real ``__main__.py`` for a stack under the mock engine.

    ``config`` replaces the stack file's config; ``overrides`` is merged on top (keys
    without a namespace get the project's). Raises whatever the program raises (a
    ``ConfigError`` for bad config).
    """
    project = project_name(project_dir)
    raw = namespaced(stack_config(stack, project_dir) if config is None else config, project, overrides)
    main = project_dir / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    return run(program, project=project, stack=stack, config=raw, cwd=project_dir, on_monitor=on_monitor,
               preview=preview)
