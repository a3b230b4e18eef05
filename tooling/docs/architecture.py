"""docs/architecture.md: section ``dependency-graph``, the dev stack's plan (Mermaid graph,
waves, critical path, ordering checks) from ``tooling.plan`` on the real program; section
``layout``, every part of the project, its job and what it may import, from ``tooling.layout``."""

from __future__ import annotations

import re
from pathlib import Path

from .. import layout
from .. import plan as plan_mod
from ..paths import PROJECT_DIR
from ..plan import make_plan
from ..plan.diagram import render_mermaid
from .markers import DocsError

ARCHITECTURE_STACK = "dev"


def architecture_section(plan: plan_mod.Plan | None = None) -> str:
    p = plan or make_plan(ARCHITECTURE_STACK)
    stack = p.graph.stack
    lines = [
        f"Generated from `Pulumi.{stack}.yaml`: the real `__main__.py` evaluated offline under the mock engine "
        f"(`python -m tooling.plan --stack {stack}` shows the same, with the Cilium values and outputs).",
        "An arrow A → B means B waits for A; dotted arrows are `depends_on` (no data links the two). "
        "Waits implied by another wait are left out. Outlined: slow steps; shaded: the critical path.",
        "",
        "```mermaid",
        render_mermaid(p).rstrip("\n"),
        "```",
        "",
        "| Wave | Created in parallel |",
        "|---|---|",
    ]
    for i, wave in enumerate(p.waves, start=1):
        cells = []
        for urn in wave:
            s = p.steps[urn]
            slow = f" ({plan_mod.fmt_seconds(s.seconds)})" if s.seconds >= plan_mod.SLOW_THRESHOLD_SECONDS else ""
            cells.append(f"`{s.label}`{slow}")
        lines.append(f"| {i} | {', '.join(cells)} |")
    path = " → ".join(
        f"`{p.steps[u].label}`" + (f" ({plan_mod.fmt_seconds(p.steps[u].seconds)})"
                                   if p.steps[u].seconds >= plan_mod.SLOW_THRESHOLD_SECONDS else "")
        for u in p.critical_path)
    lines += [
        "",
        f"Critical path, {plan_mod.fmt_seconds(p.total_seconds)} with rough AWS timings: {path}.",
        "",
        "Ordering checks computed from the graph:",
        "",
        *[f"- {'ok' if c.ok else '**WARNING**'}: {c.text}" for c in p.checks],
    ]
    return "\n".join(lines) + "\n"


def _markdown(text: str) -> str:
    """Docstring markup as Markdown: ``code`` and :role:`target` become `code`."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _shown(path: str, project_dir: Path) -> str:
    return f"`{path}/`" if (project_dir / path).is_dir() else f"`{path}`"


def _may_import(rule: layout.ImportRule) -> str:
    if rule.unrestricted:
        return "anything"
    names = ["the standard library" if m == layout.STDLIB else f"`{m}`" for m in rule.may_import]
    parts = [", ".join(names)]
    if rule.relative_root is not None:
        parts.append(f"its own modules relatively (inside `{rule.relative_root}/`)")
    if rule.type_only:
        parts.append("for type checking only (`if TYPE_CHECKING:`): " + ", ".join(f"`{m}`" for m in rule.type_only))
    for path, modules in rule.call_time.items():
        parts.append(f"in `{path}`, inside a function (when called, never on import): "
                     + ", ".join(f"`{m}`" for m in modules))
    return "; ".join(parts)


def layout_section(project_dir: Path = PROJECT_DIR) -> str:
    rows = ["| Part | Job | May import |", "|---|---|---|"]
    for part in layout.existing_parts(project_dir):
        try:
            job = _markdown(layout.job_of(part, project_dir))
        except ValueError as e:
            raise DocsError(f"{e}; fix LAYOUT in tooling/layout.py") from e
        rule = layout.IMPORT_RULES.get(part.path)
        path = "Pulumi.<stack>.yaml" if part.pattern else part.path
        imports = _may_import(rule) if rule else (part.imports or "—")
        rows.append(f"| {_shown(path, project_dir)} | {_cell(job)} | {_cell(imports)} |")
    why = [f"- {_shown(r.area, project_dir)}: {r.why}." for r in layout.IMPORT_RULES.values()
           if (project_dir / r.area).exists()]
    lines = [
        "Generated from `LAYOUT` and `IMPORT_RULES` in `tooling/layout.py`. A part's job is the first paragraph of "
        "its own module docstring wherever it has one; `tests/test_layout.py` holds every import of the project to "
        "these rules, checks that `policies/guardrails/core/` is an exact copy of `cilium_eks/` "
        "(`python -m tooling.vendor`), and that no code edits `sys.path`.",
        "",
        *rows,
        "",
        "Why each part may import only that:",
        "",
        *why,
    ]
    return "\n".join(lines) + "\n"
