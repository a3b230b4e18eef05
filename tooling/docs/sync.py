"""What is generated where, and whether it is up to date: docs/*.md sections and the
``config:`` block of Pulumi.yaml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..paths import PROJECT_DIR
from .architecture import architecture_section, layout_section
from .configuration import configuration_section
from .markers import DocsError, render
from .pulumi_yaml import PULUMI_YAML, render_pulumi_yaml
from .upgrading import versions_section

DOCS_DIR = PROJECT_DIR / "docs"


def generators() -> dict[str, dict[str, Callable[[], str]]]:
    """doc file -> {section name -> content}."""
    return {
        "architecture.md": {"dependency-graph": architecture_section, "layout": layout_section},
        "configuration.md": {"reference": configuration_section},
        "upgrading.md": {"versions": versions_section},
    }


def generate(docs_dir: Path = DOCS_DIR, pulumi_yaml: Path = PULUMI_YAML) -> dict[Path, tuple[str, str]]:
    """Every generated file: path -> (text on disk, text it should have)."""
    out: dict[Path, tuple[str, str]] = {}
    for filename, sections in generators().items():
        path = docs_dir / filename
        if not path.exists():
            raise DocsError(f"{path} is missing; it holds hand-written text around the generated sections")
        current = path.read_text()
        wanted = current
        for name, make in sections.items():
            wanted = render(wanted, name, make())
        out[path] = (current, wanted)
    if not pulumi_yaml.exists():
        raise DocsError(f"{pulumi_yaml} is missing; it holds the project's name and runtime, written by hand")
    current = pulumi_yaml.read_text()
    out[pulumi_yaml] = (current, render_pulumi_yaml(current))
    return out


def stale(docs_dir: Path = DOCS_DIR, pulumi_yaml: Path = PULUMI_YAML) -> list[Path]:
    """The generated files whose text differs from what the code says."""
    return [path for path, (current, wanted) in generate(docs_dir, pulumi_yaml).items() if current != wanted]
