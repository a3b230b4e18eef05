"""The layout is enforced, not only documented: who may import whom (``tooling.layout.IMPORT_RULES``),
the policy pack's copy of the core, no ``sys.path`` tricks, and the generated config block of
Pulumi.yaml. Each rule has a negative control: a small violation the check must report."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import pytest

from tooling import docs, layout, vendor
from tooling.paths import PROJECT_DIR

# --- (a) who may import whom ---------------------------------------------------------------


def test_every_import_of_the_project_obeys_the_import_rules() -> None:
    found = layout.violations()
    assert not found, "imports that break tooling/layout.py IMPORT_RULES:\n" + "\n".join(map(str, found))


def test_the_import_check_reads_every_restricted_part() -> None:
    governed = layout.governed_files()
    areas = {rule.area for f in governed if (rule := layout.rule_for(f)) is not None}
    assert areas == {a for a, r in layout.IMPORT_RULES.items() if not r.unrestricted}
    for must in ("__main__.py", "cilium_eks/config/read.py", "components/cilium.py", "policies/__main__.py",
                 "policies/guardrails/rules/vpc_cni_disabled.py", "scripts/stack.py"):
        assert must in governed, must
    assert not [f for f in governed if f.startswith("policies/guardrails/core/")], "the copy is checked by (b)"


def test_every_part_holding_python_has_a_rule_and_a_place_in_the_layout() -> None:
    parts = layout.python_parts()
    assert {"__main__.py", "cilium_eks", "components", "policies", "tooling", "tests"} <= set(parts)
    assert [p for p in parts if p not in layout.IMPORT_RULES] == [], "add a rule to tooling/layout.py"
    assert [p for p in parts if p not in {part.path for part in layout.LAYOUT}] == [], \
        "add the part to LAYOUT in tooling/layout.py"


def test_the_rules_and_the_layout_name_only_what_exists() -> None:
    for area, rule in layout.IMPORT_RULES.items():
        assert area == rule.area
        for path in (area, *rule.exclude, *rule.call_time, *([rule.relative_root] if rule.relative_root else [])):
            assert (PROJECT_DIR / path).exists(), f"IMPORT_RULES[{area!r}] names {path}, which does not exist"
    for part in layout.LAYOUT:
        if part.docstring_of:
            assert (PROJECT_DIR / part.docstring_of).is_file(), part.path


def test_the_call_time_exception_is_still_needed() -> None:
    """An exception that nothing uses any more would silently widen the rule."""
    strict = {area: dataclasses.replace(rule, call_time={}) for area, rule in layout.IMPORT_RULES.items()}
    for rule in layout.IMPORT_RULES.values():
        for path, modules in rule.call_time.items():
            reported = layout.import_violations(path, (PROJECT_DIR / path).read_text(), strict)
            assert {v.module.split(".")[0] for v in reported} == set(modules), path


#: (file, source, the modules that must be reported): each one a way to break the layout.
BREAKS = [
    ("cilium_eks/x.py", "import pulumi\n", ["pulumi"]),
    ("cilium_eks/x.py", "import yaml\n", ["yaml"]),
    ("cilium_eks/x.py", "from components import Cilium\nfrom tooling import docs\n", ["components", "tooling"]),
    ("cilium_eks/x.py", "import cilium_eks.cilium\n", ["cilium_eks.cilium"]),  # breaks the pack's copy
    ("cilium_eks/x.py", "from ..components import Cilium\n", ["..components"]),  # relative, but outside
    ("cilium_eks/config/x.py", "from ....elsewhere import y\n", ["....elsewhere"]),  # above the project
    ("cilium_eks/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import yaml\n", ["yaml"]),
    ("cilium_eks/x.py", "def f():\n    import pulumi\n", ["pulumi"]),  # call-time only for read.py
    ("cilium_eks/config/read.py", "import pulumi\n", ["pulumi"]),  # ... and only inside a function
    ("components/x.py", "from tooling.plan import make_plan\n", ["tooling.plan"]),
    ("components/x.py", "import pulumi_policy\nimport yaml\n", ["pulumi_policy", "yaml"]),
    ("__main__.py", "import pulumi_aws as aws\nfrom tooling import mockengine\n", ["pulumi_aws", "tooling"]),
    ("__main__.py", "from . import components\n", ["."]),
    ("policies/guardrails/rules/x.py", "from cilium_eks.cilium import CHART\n", ["cilium_eks.cilium"]),
    ("policies/guardrails/rules/x.py", "from ...tooling import vendor\n", ["...tooling"]),
    ("policies/guardrails/x.py", "import pulumi\n", ["pulumi"]),
    ("policies/__main__.py", "import components\n", ["components"]),
    ("scripts/x.py", "import yaml\n", ["yaml"]),
]


@pytest.mark.parametrize(("path", "source", "modules"), BREAKS, ids=[f"{p}:{m}" for p, _, m in BREAKS])
def test_the_import_check_reports_a_break_with_its_file_and_line(path: str, source: str, modules: list[str]) -> None:
    reported = layout.import_violations(path, source)
    assert [v.module for v in reported] == modules
    lines = source.splitlines()
    for v in reported:
        assert str(v).startswith(f"{path}:{v.line}: ")
        assert v.module.lstrip(".").split(".")[0] in lines[v.line - 1]


#: What the rules allow: nothing of it may be reported.
ALLOWED = [
    ("cilium_eks/x.py", "from __future__ import annotations\nimport re\nfrom collections.abc import Mapping\n"
                        "from .cilium import CHART\nfrom . import eks\n"),
    ("cilium_eks/config/x.py", "from ..cilium import CHART\nfrom .keys import CONFIG_KEYS\n"),
    ("cilium_eks/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                        "    from pulumi_kubernetes.core.v1 import PodSpecArgsDict\n"),
    ("cilium_eks/config/read.py", "def read():\n    import pulumi\n    from pulumi.runtime import config\n"),
    ("components/x.py", "import pulumi\nimport pulumi_aws as aws\nfrom cilium_eks.cilium import CHART\n"
                        "from .cilium import Cilium\n"),
    ("__main__.py", "import pulumi\nfrom cilium_eks.config.read import read_stack_config\n"
                    "from components import Cilium\n"),
    ("policies/__main__.py", "from pulumi_policy import PolicyPack\nfrom guardrails import build_policies\n"),
    ("policies/guardrails/rules/x.py", "from pulumi_policy import ResourceValidationArgs\n"
                                       "from ..core.cilium import CHART\nfrom ..props import get\n"),
    ("tooling/x.py", "import yaml\nimport pulumi\nfrom components import Cilium\nfrom ..anything import y\n"),
]


@pytest.mark.parametrize(("path", "source"), ALLOWED, ids=[p for p, _ in ALLOWED])
def test_the_import_check_accepts_what_the_rules_allow(path: str, source: str) -> None:
    assert layout.import_violations(path, source) == []


# --- (b) the policy pack's copy of the core -----------------------------------------------


def test_the_packs_core_is_an_exact_copy_of_cilium_eks() -> None:
    assert vendor.drift() == [], "policies/guardrails/core differs from cilium_eks/: run `python -m tooling.vendor`"
    assert vendor.main(["--check"]) == 0


def test_a_changed_missing_or_extra_file_in_the_copy_is_reported(tmp_path: Path) -> None:
    source, copy = tmp_path / "cilium_eks", tmp_path / "core"
    shutil.copytree(vendor.SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    assert vendor.write(source, copy) != []  # a fresh copy: everything was missing
    assert vendor.drift(source, copy) == []

    (copy / "cilium.py").write_text((copy / "cilium.py").read_text().replace("1.", "2.", 1))
    (copy / "config" / "keys.py").unlink()
    (copy / "extra.py").write_text("x = 1\n")
    assert vendor.drift(source, copy) == ["cilium.py", "config/keys.py", "extra.py"]

    (source / "eks.py").write_text((source / "eks.py").read_text() + "\n# changed in the source\n")
    assert "eks.py" in vendor.drift(source, copy)
    vendor.write(source, copy)
    assert vendor.drift(source, copy) == []


# --- (c) no sys.path tricks ---------------------------------------------------------------


def _is_sys_path(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "path"
            and isinstance(node.value, ast.Name) and node.value.id == "sys")


def sys_path_edits(source: str, path: str = "<test>") -> list[int]:
    """Lines that assign, change or import ``sys.path`` (text that only mentions it is fine)."""
    out = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for t in targets:
                if _is_sys_path(t) or (isinstance(t, ast.Subscript) and _is_sys_path(t.value)):
                    out.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_path(node.func.value):
            out.append(node.lineno)  # insert, append, extend, remove, clear, ...
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            out.append(node.lineno)
    return sorted(out)


def test_no_code_of_the_project_edits_sys_path() -> None:
    files = layout.project_python_files()
    assert "tests/test_layout.py" in files and not any(f.startswith(".venv/") for f in files)
    found = [f"{f}:{line}" for f in files for line in sys_path_edits((PROJECT_DIR / f).read_text(), f)]
    assert not found, "imports must work from the project root and the pack's folder as they are: " + ", ".join(found)


@pytest.mark.parametrize(("source", "line"), [
    ("import sys\nsys.path.insert(0, 'x')\n", 2),
    ("import sys\nsys.path.append('x')\n", 2),
    ("import sys\nsys.path = ['x']\n", 2),
    ("import sys\nsys.path += ['x']\n", 2),
    ("import sys\nsys.path[0:0] = ['x']\n", 2),
    ("from sys import path\npath.append('x')\n", 1),
])
def test_a_sys_path_edit_is_found(source: str, line: int) -> None:
    assert sys_path_edits(source) == [line]


def test_mentioning_sys_path_is_not_an_edit() -> None:
    assert sys_path_edits('"""The engine puts policies/ on sys.path."""\nimport sys\nprint(sys.path[0])\n') == []


# --- (d) the config block of Pulumi.yaml --------------------------------------------------


def test_pulumi_yaml_config_block_is_the_one_generated_from_config_keys() -> None:
    text = docs.PULUMI_YAML.read_text()
    assert docs.render_pulumi_yaml(text) == text, f"Pulumi.yaml is stale: run `{docs.REGENERATE}`"
    assert docs.PULUMI_YAML not in docs.stale()


def test_a_stale_config_block_is_reported_and_regenerated_around_hand_written_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = docs.PULUMI_YAML.read_text()
    head, block = real.split("\nconfig:\n", 1)
    copy_docs, pulumi_yaml = tmp_path / "docs", tmp_path / "Pulumi.yaml"
    shutil.copytree(docs.DOCS_DIR, copy_docs)
    where = ["--docs-dir", str(copy_docs), "--pulumi-yaml", str(pulumi_yaml)]

    # stale: a description edited by hand, and a key the code no longer has
    hand_head = head.replace("runtime:", "# a note kept by hand\nruntime:")
    assert hand_head != head
    lines = block.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("    description: "))
    lines[first] = "    description: Edited by hand.\n"
    stale_block = "".join(lines) + "  removedKey:\n    type: string\n    default: x\n"
    tail = "\nbackend:\n  url: file://.\n"
    pulumi_yaml.write_text(f"{hand_head}\nconfig:\n{stale_block}{tail}")

    assert docs.main(["--check", *where]) == 1
    err = capsys.readouterr().err
    assert f"{pulumi_yaml} is out of date" in err
    assert docs.main(where) == 0
    fixed = pulumi_yaml.read_text()
    assert fixed == f"{hand_head}\nconfig:\n{block}{tail}", "only the config block is rewritten"
    assert docs.main(["--check", *where]) == 0
