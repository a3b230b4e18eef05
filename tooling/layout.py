"""The project's layout as data: each top-level part and its job, and who may import whom.

``LAYOUT`` lists the parts; a part's job is the first paragraph of its own module docstring
where it has one, so the description cannot drift from the code. ``IMPORT_RULES`` says, per
part, which modules its code may import; :func:`import_violations` checks one file against
it from its syntax tree (nothing is imported or run). ``python -m tooling.docs`` renders
both into docs/architecture.md, and tests/test_layout.py holds every file to the rules.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from .paths import PROJECT_DIR

#: In ``ImportRule.may_import``: any module of Python's standard library.
STDLIB = "<stdlib>"
#: In ``ImportRule.may_import``: no restriction.
ANYTHING = "<anything>"
#: The Pulumi SDKs the program and its components are written against.
PULUMI_SDKS: tuple[str, ...] = ("pulumi", "pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pulumi_command",
                                "pulumi_random")
#: Folders that hold no project code (tools' caches, virtual environments, build output).
NOT_PROJECT_CODE: frozenset[str] = frozenset({".venv", "venv", "__pycache__", "build", "node_modules"})


@dataclass(frozen=True)
class ImportRule:
    """What the Python code under ``area`` (a file or a folder, relative to the project) may import.

    ``may_import`` are top-level module names (or ``STDLIB`` / ``ANYTHING``) for absolute
    imports. A relative import must stay inside ``relative_root`` (None: relative imports
    are refused). ``type_only`` modules may be named under ``if TYPE_CHECKING:`` only (type
    checkers read them, Python never imports them). ``call_time`` names, per file, modules
    that file imports inside a function, so only when called and never on import.
    ``exclude`` are sub-folders governed otherwise.
    """

    area: str
    may_import: tuple[str, ...]
    why: str
    relative_root: str | None = None
    type_only: tuple[str, ...] = ()
    call_time: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    exclude: tuple[str, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return ANYTHING in self.may_import


_RULES: tuple[ImportRule, ...] = (
    ImportRule(
        "cilium_eks", (STDLIB,),
        "the product core is pure Python, and the policy pack carries a copy of it under another package name: "
        "only the standard library, and its own modules relatively",
        relative_root="cilium_eks", type_only=PULUMI_SDKS,
        call_time=MappingProxyType({"cilium_eks/config/read.py": ("pulumi",)})),
    ImportRule(
        "components", (STDLIB, "cilium_eks", *PULUMI_SDKS),
        "a Pulumi component library: the core's facts and the Pulumi SDKs, never the tooling",
        relative_root="components"),
    ImportRule(
        "__main__.py", (STDLIB, "cilium_eks", "components", "pulumi"),
        "the program only wires components together: resources are declared in components/, never here",
        relative_root=None),
    ImportRule(
        "policies", (STDLIB, "pulumi_policy", "guardrails"),
        "the pack runs and is published from policies/ alone, with policies/ on sys.path: its own "
        "guardrails package and the policy SDK",
        relative_root=None),
    ImportRule(
        "policies/guardrails", (STDLIB, "pulumi_policy"),
        "the rules use the policy SDK and their own generated copy of the core (guardrails.core), imported "
        "relatively, never the project's packages",
        relative_root="policies/guardrails", exclude=("policies/guardrails/core",)),
    ImportRule(
        "scripts", (STDLIB,),
        "the bootstrap runs with any Python 3.11 before the virtual environment exists",
        relative_root=None),
    ImportRule(
        "tooling", (ANYTHING,),
        "the tooling inspects and checks everything else; nothing but the tooling and the tests imports it",
        relative_root="tooling"),
    ImportRule(
        "tests", (ANYTHING,),
        "the tests import what they test",
        relative_root="tests"),
)

#: Who may import whom, by area (a file or folder relative to the project root).
IMPORT_RULES: Mapping[str, ImportRule] = MappingProxyType({r.area: r for r in _RULES})


@dataclass(frozen=True)
class Part:
    """A top-level part of the project. ``job`` is written here only where the part has no
    module docstring to take it from (``docstring_of``, a .py file, relative to the project).
    ``imports`` says what a part holding code but no rule of its own may import."""

    path: str
    job: str | None = None
    docstring_of: str | None = None
    pattern: bool = False  # path is a glob (Pulumi.*.yaml)
    imports: str | None = None


#: Every top-level part (and the pack's parts, which import differently), in reading order.
LAYOUT: tuple[Part, ...] = (
    Part("__main__.py", docstring_of="__main__.py"),
    Part("cilium_eks", docstring_of="cilium_eks/__init__.py"),
    Part("components", docstring_of="components/__init__.py"),
    Part("policies", docstring_of="policies/__init__.py"),
    Part("policies/guardrails", docstring_of="policies/guardrails/__init__.py"),
    Part("policies/guardrails/core", docstring_of="tooling/vendor.py",
         imports="as `cilium_eks/`, of which it is an exact copy"),
    Part("tooling", docstring_of="tooling/__init__.py"),
    Part("scripts", docstring_of="scripts/stack.py"),
    Part("tests", job="The test suite (`make unit`): offline, the real program under the mock engine, upstream "
                      "reference data from `CILIUM_EKS_REFERENCE_DIR` or the `make reference` cache."),
    Part("docs", job="The guides; their sections marked GENERATED are written from the code by "
                     "`python -m tooling.docs` (a test fails while they are stale)."),
    Part("Pulumi.yaml", job="The Pulumi project: name, runtime, and the `config:` block, generated from "
                            "`CONFIG_KEYS` by `python -m tooling.docs`."),
    Part("Pulumi.*.yaml", job="One committed file per stack: its configuration.", pattern=True),
    Part("Makefile", job="The commands a user types (`make test`, `make plan|preview|up|destroy|verify STACK=...`)."),
    Part("pyproject.toml", job="The distribution (the library `components` and the core `cilium_eks`), its "
                               "dependencies (pinned in `uv.lock`) and the linters' settings."),
)


def first_paragraph(docstring: str) -> str:
    """The first paragraph of a docstring, on one line."""
    paragraph = docstring.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def docstring(path: Path) -> str | None:
    """The module docstring of a .py file, read from its syntax tree (nothing is imported)."""
    return ast.get_docstring(ast.parse(path.read_text(), filename=str(path)))


def job_of(part: Part, project_dir: Path = PROJECT_DIR) -> str:
    if part.docstring_of is None:
        if part.job is None:
            raise ValueError(f"layout part {part.path} has neither a job nor a module to take it from")
        return part.job
    text = docstring(project_dir / part.docstring_of)
    if not text:
        raise ValueError(f"{part.docstring_of} has no module docstring to describe {part.path} with")
    return first_paragraph(text)


def existing_parts(project_dir: Path = PROJECT_DIR) -> list[Part]:
    """The parts of ``LAYOUT`` present in this checkout."""
    return [p for p in LAYOUT
            if (any(project_dir.glob(p.path)) if p.pattern else (project_dir / p.path).exists())]


# --------------------------------------------------------------------------------------
# The import rules, checked on the syntax tree
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module}: {self.problem}"


def _inside(path: PurePosixPath, area: str) -> bool:
    return path == PurePosixPath(area) or PurePosixPath(area) in path.parents


def rule_for(path: str, rules: Mapping[str, ImportRule] = IMPORT_RULES) -> ImportRule | None:
    """The rule of the most specific area holding ``path`` (None: no rule, or an excluded folder)."""
    p = PurePosixPath(path)
    holding = [r for r in rules.values() if _inside(p, r.area)]
    if not holding:
        return None
    rule = max(holding, key=lambda r: len(PurePosixPath(r.area).parts))
    return None if any(_inside(p, e) for e in rule.exclude) else rule


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@dataclass(frozen=True)
class _Import:
    node: ast.Import | ast.ImportFrom
    type_only: bool
    in_function: bool


def _imports(tree: ast.AST) -> Iterator[_Import]:
    def visit(node: ast.AST, type_only: bool, in_function: bool) -> Iterator[_Import]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield _Import(node, type_only, in_function)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True, in_function)
            for child in node.orelse:
                yield from visit(child, type_only, in_function)
            return
        function = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_only, function)

    yield from visit(tree, False, False)


def _resolve_relative(path: str, level: int, module: str | None) -> PurePosixPath | None:
    """Where ``from <level dots><module> import ...`` in file ``path`` points (None: above the root)."""
    package = PurePosixPath(path).parent.parts
    if level - 1 > len(package):
        return None
    base = package[:len(package) - (level - 1)]
    return PurePosixPath(*base, *(module.split(".") if module else ()))


def _allowed(top: str, allowed: Sequence[str]) -> bool:
    return top in allowed or (STDLIB in allowed and top in sys.stdlib_module_names)


def import_violations(path: str, source: str, rules: Mapping[str, ImportRule] = IMPORT_RULES) -> list[Violation]:
    """Every import in ``source`` (the text of the file at ``path``, relative to the project
    root) that the rule of its area does not allow."""
    rule = rule_for(path, rules)
    if rule is None or rule.unrestricted:
        return []
    out: list[Violation] = []
    for imp in _imports(ast.parse(source, filename=path)):
        node = imp.node
        if isinstance(node, ast.ImportFrom) and node.level:
            shown = "." * node.level + (node.module or "")
            target = _resolve_relative(path, node.level, node.module)
            if rule.relative_root is None:
                out.append(Violation(path, node.lineno, shown, f"relative imports are not allowed here ({rule.why})"))
            elif target is None or not _inside(target, rule.relative_root):
                out.append(Violation(path, node.lineno, shown, f"a relative import must stay inside "
                                     f"{rule.relative_root}/ ({rule.why})"))
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if _allowed(top, rule.may_import):
                continue
            if imp.type_only and top in rule.type_only:
                continue
            if imp.in_function and top in rule.call_time.get(path, ()):
                continue
            out.append(Violation(path, node.lineno, name, f"{rule.area} may not import it ({rule.why})"))
    return out


def project_python_files(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Every .py file of the project, relative to it (not in hidden folders, virtual
    environments, caches or build output)."""
    out = []
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_PROJECT_CODE)
        rel = Path(root).relative_to(project_dir)
        out += [(rel / f).as_posix() for f in sorted(files) if f.endswith(".py")]
    return sorted(out)


def governed_files(project_dir: Path = PROJECT_DIR, rules: Mapping[str, ImportRule] = IMPORT_RULES) -> list[str]:
    """Every .py file of the project that a restricting rule governs, relative to the project."""
    return [rel for rel in project_python_files(project_dir)
            if (rule := rule_for(rel, rules)) is not None and not rule.unrestricted]


def violations(project_dir: Path = PROJECT_DIR, rules: Mapping[str, ImportRule] = IMPORT_RULES) -> list[Violation]:
    """Every import of the project that breaks ``rules``."""
    return [v for rel in governed_files(project_dir, rules)
            for v in import_violations(rel, (project_dir / rel).read_text(), rules)]


def python_parts(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Top-level folders holding Python code, and top-level .py files (what the rules must cover)."""
    return sorted({PurePosixPath(rel).parts[0] for rel in project_python_files(project_dir)})
