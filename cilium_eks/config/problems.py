"""Configuration problems: what is wrong, under which key, how to fix it, and how hard it stops.

``error`` stops every entry (offline plan, preview, up) before anything is declared.
``deploy`` stops `pulumi up` only: preview and the offline plan show it as a warning, so pull-request
previews and newcomers keep working while a stack still has placeholders to fill in.
``warning`` never stops anything; it is printed (and logged by the program).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "deploy", "warning"]


@dataclass(frozen=True)
class Problem:
    key: str
    what: str
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.what}. Fix: {self.fix}"

    def blocks(self, deploying: bool) -> bool:
        return self.severity == "error" or (self.severity == "deploy" and deploying)


class ConfigError(Exception):
    """Every configuration problem of a stack that stops this entry, reported together."""

    def __init__(self, stack: str, problems: Sequence[Problem], *, consequence: str = "nothing was created"):
        self.stack = stack
        self.problems = tuple(problems)
        lines = [f"stack '{stack}' has {len(self.problems)} configuration problem(s); {consequence}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
