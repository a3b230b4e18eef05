"""What a check gives (:class:`CheckResult`: PASS, FAIL or SKIP with its evidence), what a
command gave (:class:`CommandOutcome`), and verify's exit codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # PASS | FAIL | SKIP
    summary: str
    evidence: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def result(name: str, ok: bool, summary: str, evidence: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, PASS if ok else FAIL, summary, tuple(evidence))


@dataclass(frozen=True)
class CommandOutcome:
    """What running a command gave: ``returncode`` is None when it timed out."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""

    @property
    def timed_out(self) -> bool:
        return self.returncode is None
