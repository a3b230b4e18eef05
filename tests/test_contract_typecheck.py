"""Contract 4: the program's nested dicts match the provider SDKs' `*ArgsDict` TypedDicts.

pyright (standard mode, pyrightconfig.json) proves it; `make typecheck` runs it. This file
keeps that proof from being hollowed out, statically and in milliseconds (pyright itself
takes seconds, so it never runs from pytest):

* the Makefile's typecheck target runs both pyright on the program and the negative
  control (tests/typecheck_negative/), which passes only if pyright still rejects a wrong
  TypedDict key for pulumi-aws, pulumi-eks and pulumi-kubernetes;
* the configuration keeps standard mode, every program directory, and no rule turned off;
* the type-checked code has no blanket suppression: pyright treats `# type: ignore[code]`
  as blanket (it ignores the bracket), so only `# pyright: ignore[rule]` with a reason is allowed.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from pathlib import Path

from tooling.paths import PROJECT_DIR

MAIN_CONFIG = PROJECT_DIR / "pyrightconfig.json"
NEGATIVE_DIR = PROJECT_DIR / "tests" / "typecheck_negative"
NEGATIVE_CONFIG = NEGATIVE_DIR / "pyrightconfig.json"
TYPE_CHECKED = ("__main__.py", "components", "cilium_eks", "policies", "scripts")
SDKS = ("pulumi_aws", "pulumi_eks", "pulumi_kubernetes")
EXPECTED = "# pyright: ignore[reportArgumentType]"
#: Rules the main configuration may relax, with why.
RELAXED_RULES = {
    # Stub-only packages (types-PyYAML style stubs bundled with pyright) have no source to find.
    "reportMissingModuleSource": "none",
}


def recipe(target: str) -> list[str]:
    lines = (PROJECT_DIR / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}\s*:", line))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        out.append(line.strip())
    return out


def comments(source: str) -> list[tuple[int, str]]:
    return [(t.start[0], t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.COMMENT]


def type_checked_files() -> list[Path]:
    out: list[Path] = []
    for entry in TYPE_CHECKED:
        path = PROJECT_DIR / entry
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


# --- wiring -----------------------------------------------------------------------------------------


def test_make_test_runs_the_type_check_and_its_negative_control():
    assert "typecheck" in (PROJECT_DIR / "Makefile").read_text().split("\ntest:")[1].splitlines()[0]
    steps = recipe("typecheck")
    assert "$(BIN)/pyright" in steps
    assert f"$(BIN)/pyright -p {NEGATIVE_CONFIG.relative_to(PROJECT_DIR)}" in steps


def test_the_main_configuration_checks_every_program_directory_in_standard_mode():
    config = json.loads(MAIN_CONFIG.read_text())
    assert config["typeCheckingMode"] == "standard"
    assert set(TYPE_CHECKED) <= set(config["include"])
    below_error = ("none", False, "information", "warning")  # none of these fails `make typecheck`
    relaxed = {k: v for k, v in config.items() if k.startswith("report") and v in below_error}
    assert relaxed == RELAXED_RULES


def test_the_negative_control_runs_like_the_main_check_and_fails_on_a_needless_ignore():
    main = json.loads(MAIN_CONFIG.read_text())
    negative = json.loads(NEGATIVE_CONFIG.read_text())
    for key in ("typeCheckingMode", "pythonVersion", "venv"):
        assert negative[key] == main[key], key
    assert (NEGATIVE_DIR / negative["venvPath"]).resolve() == (PROJECT_DIR / main["venvPath"]).resolve()
    assert negative["reportUnnecessaryTypeIgnoreComment"] == "error"
    assert all((NEGATIVE_DIR / f).is_file() for f in negative["include"])


# --- the negative control's fixture ------------------------------------------------------------------


def test_every_sdk_has_a_rejected_call_and_an_accepted_twin():
    """Per SDK class: a call pyright must reject (it carries the expected-error ignore, which
    is itself an error if pyright does not reject the call) and a call that is clean."""
    negative = json.loads(NEGATIVE_CONFIG.read_text())
    sources = {f: (NEGATIVE_DIR / f).read_text() for f in negative["include"]}
    imported: dict[str, str] = {}
    calls: dict[str, list[bool]] = {}
    for source in sources.values():
        tree = ast.parse(source)
        lines = source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.update({a.asname or a.name: node.module.split(".")[0] for a in node.names})
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported:
                span = lines[node.lineno - 1:(node.end_lineno or node.lineno)]
                calls.setdefault(node.func.id, []).append(any(EXPECTED in line for line in span))
    assert {imported[c] for c in calls} == set(SDKS)
    for cls, expected_errors in calls.items():
        assert True in expected_errors and False in expected_errors, f"{cls}: needs a rejected call and a clean twin"


def test_every_expected_error_in_the_fixture_is_rule_scoped_and_explained():
    negative = json.loads(NEGATIVE_CONFIG.read_text())
    for f in negative["include"]:
        source = (NEGATIVE_DIR / f).read_text()
        found = comments(source)
        ignores = [(n, c) for n, c in found if "ignore" in c and ("pyright:" in c or "type:" in c)]
        assert ignores and all(c.startswith(EXPECTED) for _, c in ignores)
        explained = {n for n, c in found if c.startswith("# EXPECTED ERROR:")}
        for n, _ in ignores:
            assert {n - 1, n - 2} & explained or n in explained, f"{f}:{n} says which key is wrong"


# --- no blanket suppression in the type-checked code -------------------------------------------------


def suppression_problems(path: Path, root: Path = PROJECT_DIR) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    rel = path.relative_to(root)
    problems = []
    for n, text in comments(source):
        if re.search(r"#\s*type:\s*ignore", text):
            problems.append(f"{rel}:{n}: `# type: ignore` is blanket for pyright; use `# pyright: ignore[rule]`")
        if re.match(r"#\s*pyright:\s*(basic|strict|standard|report\w+\s*=)", text):
            problems.append(f"{rel}:{n}: file-level pyright setting {text!r}")
        m = re.search(r"#\s*pyright:\s*ignore(\[[^\]]+\])?(.*)$", text)
        if m:
            if not m[1]:
                problems.append(f"{rel}:{n}: `# pyright: ignore` without a rule is blanket")
            reason_here = re.match(r"\s*#\s*\S", m[2])
            above = lines[n - 2].strip() if n >= 2 else ""
            reason_above = above.startswith("#") and "ignore" not in above
            if not (reason_here or reason_above):
                problems.append(f"{rel}:{n}: say why the ignore is needed (a comment after it or on the line above)")
    return problems


def test_type_checked_code_has_no_blanket_or_unexplained_ignore():
    files = type_checked_files()
    assert PROJECT_DIR / "__main__.py" in files and len(files) > 5
    assert [p for f in files for p in suppression_problems(f)] == []


def test_the_suppression_scan_bites(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("a = f()  # type: ignore[arg-type]\n"
                   "b = f()  # pyright: ignore\n"
                   "c = f()  # pyright: ignore[reportCallIssue]\n"
                   "# pyright: basic\n"
                   "# why: f is untyped\n"
                   "d = f()  # pyright: ignore[reportCallIssue]\n"
                   "e = f()  # pyright: ignore[reportCallIssue]  # f is untyped\n"
                   "g = f()  # a comment about g, not a reason for the next line\n"
                   "h = f()  # pyright: ignore[reportCallIssue]\n")
    problems = suppression_problems(bad, root=tmp_path)
    assert [p.split(":")[1] for p in problems] == ["1", "2", "2", "3", "4", "9"]
