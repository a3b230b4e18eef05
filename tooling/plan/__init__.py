"""Offline plan of a stack (``python -m tooling.plan``): what ``pulumi up`` would create, in
which order, with which Cilium values.

Modules: ``model`` (steps, waits, the plan), ``build`` (from the mock engine's graph: steps,
waves, critical path), ``checks`` (why this order, from ``cilium_eks.ordering``), ``text``,
``diagram`` (Mermaid, dot) and ``document`` (JSON) renderers, ``__main__`` (the CLI).
"""

from .build import build_plan, cilium_values, make_plan
from .checks import ordering_checks
from .format import fmt_clock, fmt_seconds, label
from .model import SLOW_THRESHOLD_SECONDS, Check, Plan, PlanError, Step

__all__ = [
    "SLOW_THRESHOLD_SECONDS",
    "Check",
    "Plan",
    "PlanError",
    "Step",
    "build_plan",
    "cilium_values",
    "fmt_clock",
    "fmt_seconds",
    "label",
    "make_plan",
    "ordering_checks",
]
