"""Running commands under a deadline, and ``kubectl`` (no Python Kubernetes client to install):
``get -o json`` once per listing (cached, shared by the checks that need it) and ``exec``."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .results import CommandOutcome


class CheckTimeout(Exception):
    """A check ran out of its time."""


class KubectlError(Exception):
    """kubectl answered with an error (its last line says why)."""


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass
class Deadline:
    seconds: float
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        left = self.seconds - (time.monotonic() - self.start)
        if left <= 0:
            raise CheckTimeout(f"no answer within {self.seconds:g}s")
        return left


def run_command(args: Sequence[str], timeout: float, env: Mapping[str, str] | None = None,
                run: Runner = subprocess.run) -> CommandOutcome:
    try:
        proc = run(list(args), capture_output=True, text=True, timeout=timeout,
                   env=None if env is None else dict(env), check=False)
    except subprocess.TimeoutExpired as exc:
        def text(v: Any) -> str:
            return v.decode(errors="replace") if isinstance(v, bytes) else (v or "")
        return CommandOutcome(tuple(args), None, text(exc.stdout), text(exc.stderr))
    return CommandOutcome(tuple(args), proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Kubectl:
    binary: str
    kubeconfig: str | None = None
    context: str | None = None
    run: Runner = subprocess.run
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def base(self) -> list[str]:
        out = [self.binary]
        if self.kubeconfig:
            out += ["--kubeconfig", self.kubeconfig]
        if self.context:
            out += ["--context", self.context]
        return out

    def get(self, deadline: Deadline, resource: str, *, namespace: str | None = None,
            all_namespaces: bool = False, selector: str | None = None) -> Any:
        args = ["get", resource, "-o", "json"]
        if all_namespaces:
            args.append("--all-namespaces")
        elif namespace:
            args += ["--namespace", namespace]
        if selector:
            args += ["--selector", selector]
        key = tuple(args)
        if key not in self._cache:
            self._cache[key] = self.json(deadline, args)
        return self._cache[key]

    def json(self, deadline: Deadline, args: list[str]) -> Any:
        """``kubectl <args>`` parsed as JSON, uncached; a timeout or a failure raises with kubectl's words."""
        outcome = run_command(self.base() + args, deadline.remaining(), run=self.run)
        if outcome.timed_out:
            raise CheckTimeout(f"`kubectl {' '.join(args)}` gave no answer within {deadline.seconds:g}s")
        if outcome.returncode != 0:
            # kubectl's last line is the conclusion; client-go's retries above it are noise
            said = (outcome.stderr.strip() or outcome.stdout.strip() or "no output").splitlines()[-1]
            raise KubectlError(f"`kubectl {' '.join(args)}` failed (exit {outcome.returncode}): {said[:300]}")
        return json.loads(outcome.stdout)

    def exec(self, deadline: Deadline, namespace: str, pod: str, container: str,
             command: Sequence[str]) -> CommandOutcome:
        args = [*self.base(), "exec", "--namespace", namespace, pod, "--container", container, "--", *command]
        outcome = run_command(args, deadline.remaining(), run=self.run)
        # reported as a person would rerun it (without this run's temporary kubeconfig)
        shown = ("kubectl", "exec", "-n", namespace, pod, "--", *command)
        return CommandOutcome(shown, outcome.returncode, outcome.stdout, outcome.stderr)
