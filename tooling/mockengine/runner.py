"""Running a Pulumi program (the project's ``__main__.py``, or any function) under the
recording mock engine."""

from __future__ import annotations

import logging
import os
import runpy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..paths import PROJECT_DIR
from ..stackfiles import (
    config_text,
    contains_secret,
    marked_secrets,
    namespaced,
    project_name,
    stack_program_config,
)
from .graph import Graph
from .monitor import RecordingMonitor
from .providers import EngineMocks


def _as_config_string(value: Any) -> str:
    """What the Pulumi CLI hands a program: the text of each value (``stackfiles.config_text``:
    strings as-is, numbers and booleans as their JSON text, maps and lists as JSON). Encrypted
    values cannot be decrypted offline: they arrive as ``stackfiles.SECRET_PLACEHOLDER``."""
    return config_text(marked_secrets(value))


def run(program: Callable[[], None], *, project: str, stack: str, config: Mapping[str, Any] | None = None,
        cwd: Path | None = None, on_monitor: Callable[[RecordingMonitor], None] | None = None,
        preview: bool = True, secret_keys: Iterable[str] = ()) -> Graph:
    """Evaluate ``program`` as the Pulumi language host would, under the mock engine.

    ``config`` holds fully namespaced keys (``aws:region``, ``<project>:<key>``) with values
    as a stack file holds them. ``secret_keys`` are keys the engine would report as secret
    (``pulumi config set --secret``): their values are given in plain text here, as the engine
    hands them to the program decrypted, and the program learns they are secret from the list
    (``pulumi.runtime.config.set_all_config``, which the language host calls with
    ``PULUMI_CONFIG_SECRET_KEYS``); keys holding ``{secure: ...}`` values are secret too.
    ``preview`` (default) evaluates it as `pulumi preview` does, ``preview=False`` as `pulumi up`
    (the program refuses more then). Raises whatever the program raises. ``on_monitor`` receives
    the recording monitor before the program runs, so a caller can inspect what was declared even
    when it fails.
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

    # The engine shows the program's pulumi.log messages in the update's diagnostics; here they are
    # kept on the graph (the plan prints its own report), never left to Python's root logger.
    logs = _EngineLog()
    # EngineMocks has the methods of pulumi's Mocks (new_resource, call) without subclassing it.
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor,  # pyright: ignore[reportArgumentType]
                             logger=logs.logger)
    secrets = sorted({*secret_keys, *(k for k, v in raw.items() if contains_secret(marked_secrets(v)))})
    set_all_config({k: _as_config_string(v) for k, v in raw.items()}, secrets)
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
                 outputs=dict(monitor.stack_outputs), stack_urn=monitor.stack_urn, logs=logs.records)


class _EngineLog(logging.Handler):
    """A private logger (not registered with ``logging``, not propagating) that keeps each message."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str]] = []
        self.logger = logging.Logger("pulumi-engine")
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


def run_program(stack: str, *, config: Mapping[str, Any] | None = None,
                project_dir: Path = PROJECT_DIR, overrides: Mapping[str, Any] | None = None,
                on_monitor: Callable[[RecordingMonitor], None] | None = None, preview: bool = True,
                secret_keys: Iterable[str] = ()) -> Graph:
    """Evaluate the project's real ``__main__.py`` for a stack under the mock engine.

    ``config`` replaces the stack file's config; ``overrides`` is merged on top (keys
    without a namespace get the project's). Without ``config`` the stack file is read as Pulumi
    reads it (``tooling.stackfiles``), and a file or override Pulumi would refuse raises
    ``StackFileError`` before the program runs. ``secret_keys`` (namespaced or not) are keys the
    engine would report as secret (see :func:`run`). Raises whatever the program raises (a
    ``ConfigError`` for bad config).
    """
    project = project_name(project_dir)
    secret_keys = [k if ":" in k else f"{project}:{k}" for k in secret_keys]
    if config is None:
        from_file = stack_program_config(stack, project_dir=project_dir, overrides=overrides)
        raw = from_file.values
        secret_keys += from_file.secret_keys
    else:
        raw = namespaced(config, project, overrides)
    main = project_dir / "__main__.py"

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    return run(program, project=project, stack=stack, config=raw, cwd=project_dir, on_monitor=on_monitor,
               preview=preview, secret_keys=secret_keys)
