"""The golden files in tests/golden/ are what the program declares today, for every committed
stack and every named variant (``tooling.golden``): any change to the graph or to the Cilium
values fails here until the files are rewritten and the diff reviewed."""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path

import pytest

from tooling import golden
from tooling.mockengine import Graph, run_program

CASES = golden.cases()
REGENERATE = "run `python -m tooling.golden` and review the diff"
DIFF_LINES = 60


@functools.cache
def fresh(name: str) -> tuple[str, str]:
    """(graph JSON, values YAML) of a case, evaluated once per session."""
    stack, overrides = CASES[name]
    return golden.render_case(stack, overrides)


def short_diff(expected: str, actual: str, name: str) -> str:
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                      fromfile=f"tests/golden/{name}", tofile="fresh evaluation", n=2, lineterm=""))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... ({len(lines) - DIFF_LINES} more diff lines)"]
    return "\n".join(lines)


def assert_golden(name: str, actual: str) -> None:
    path = golden.GOLDEN_DIR / name
    assert path.is_file(), f"tests/golden/{name} is missing: {REGENERATE}"
    expected = path.read_text()
    if actual != expected:
        where = ""
        if name.endswith(golden.GRAPH_SUFFIX):
            where = "".join(f"  {line}\n" for line in golden.changes(expected, actual))
        pytest.fail(f"tests/golden/{name} is stale: {REGENERATE}\n{where}{short_diff(expected, actual, name)}",
                    pytrace=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_graph_is_the_programs_graph(name: str) -> None:
    assert_golden(name + golden.GRAPH_SUFFIX, fresh(name)[0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_cilium_values_are_the_releases_values(name: str) -> None:
    assert_golden(name + golden.VALUES_SUFFIX, fresh(name)[1])


def test_every_committed_stack_and_variant_has_golden_files_and_nothing_else() -> None:
    expected = {n + suffix for n in CASES for suffix in (golden.GRAPH_SUFFIX, golden.VALUES_SUFFIX)}
    assert set(golden.managed_files()) == expected, REGENERATE
    assert {"dev", "prod"} <= set(CASES)
    assert set(golden.VARIANTS) <= set(CASES)


# --- negative controls: the comparison can fail ---------------------------------------------


def test_an_altered_graph_is_detected() -> None:
    graph: Graph = copy.deepcopy(run_program("dev"))
    assert golden.graph_text(graph) == (golden.GOLDEN_DIR / "dev.graph.json").read_text()
    [release] = [r for r in graph if r.type == "kubernetes:helm.sh/v3:Release"]
    [node_group] = [r for r in graph if r.type == "eks:index:ManagedNodeGroup"]
    node_group.dependencies = tuple(d for d in node_group.dependencies if d != release.urn)
    altered = golden.graph_text(graph)
    assert altered != (golden.GOLDEN_DIR / "dev.graph.json").read_text()
    diff = short_diff((golden.GOLDEN_DIR / "dev.graph.json").read_text(), altered, "dev.graph.json")
    assert f'-    "{release.urn}"' in diff
    assert golden.changes((golden.GOLDEN_DIR / "dev.graph.json").read_text(), altered) == [
        f"changed {node_group.urn}"]

    release.inputs["values"]["routingMode"] = "tunnel"
    values = golden.values_text(graph)
    assert values != (golden.GOLDEN_DIR / "dev.cilium-values.yaml").read_text()
    assert "+routingMode: tunnel" in short_diff((golden.GOLDEN_DIR / "dev.cilium-values.yaml").read_text(),
                                                values, "dev.cilium-values.yaml")


def test_the_canonical_form_marks_references_secrets_and_unknowns() -> None:
    from tooling.mockengine import UNKNOWN, ResourceRef, Secret

    value = {"b": [ResourceRef("urn:x"), Secret("s"), UNKNOWN], "a": (1, 2)}
    assert golden.canonical(value) == {"a": [1, 2], "b": [{"$ref": "urn:x"}, {"$secret": "s"}, "$unknown"]}
    assert list(golden.canonical(value)) == ["a", "b"]


def test_check_names_stale_missing_and_orphaned_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    want = {"s.graph.json": "{}\n", "s.cilium-values.yaml": "a: 1\n"}
    monkeypatch.setattr(golden, "render", lambda: dict(want))
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    assert golden.main(["--check"]) == 1
    assert capsys.readouterr().err.count("is missing: run `python -m tooling.golden`") == 2

    assert golden.main([]) == 0
    assert golden.main(["--check"]) == 0
    (tmp_path / "README.md").write_text("not a golden file\n")
    assert golden.main(["--check"]) == 0

    (tmp_path / "s.cilium-values.yaml").write_text("a: 2\n")
    (tmp_path / "gone.graph.json").write_text("{}\n")
    capsys.readouterr()
    assert golden.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "s.cilium-values.yaml is stale" in err and "gone.graph.json is no longer produced" in err
    assert "s.graph.json" not in err

    assert golden.main([]) == 0
    assert not (tmp_path / "gone.graph.json").exists()
    assert (tmp_path / "s.cilium-values.yaml").read_text() == "a: 1\n"
    assert (tmp_path / "README.md").exists()
