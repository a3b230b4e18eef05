"""Living docs: the generated sections of docs/ and the config block of Pulumi.yaml match the
code, and the hand-written guides keep pointing at things that exist."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from cilium_eks.cilium import OWNED_VALUES as PROGRAM_OWNED_CILIUM_VALUES
from cilium_eks.cilium import REMOVED_VALUES as REMOVED_CILIUM_VALUES
from cilium_eks.config import CONFIG_KEYS, CONFIG_KEYS_BY_NAME, ConfigKey
from cilium_eks.config.validate import (
    _NODE_GROUP_FIELDS,  # pyright: ignore[reportPrivateUsage]  # the validator's own field list
)
from cilium_eks.eks import SUPPORTED_KUBERNETES_VERSIONS
from tooling import docs, layout
from tooling.paths import PROJECT_DIR
from tooling.stackfiles import stack_config, stack_files

DOCS = PROJECT_DIR / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, name: str) -> str:
    m = re.search(rf"<!-- BEGIN GENERATED {name}[: ].*?-->\n(.*?)<!-- END GENERATED {name} -->", text, re.S)
    assert m, f"no generated section {name}"
    return m.group(1)


def test_generated_docs_are_in_sync_with_the_code() -> None:
    stale = docs.stale()
    assert not stale, f"out of date: {[str(p) for p in stale]}; run `{docs.REGENERATE}` and commit the result"


def copies(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A copy of docs/ and of Pulumi.yaml, and the arguments that point `main` at them."""
    copy, pulumi_yaml = tmp_path / "docs", tmp_path / "Pulumi.yaml"
    shutil.copytree(DOCS, copy)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", pulumi_yaml)
    return copy, pulumi_yaml, ["--docs-dir", str(copy), "--pulumi-yaml", str(pulumi_yaml)]


def test_check_mode_fails_on_a_stale_doc_and_regeneration_fixes_it(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    copy, _, where = copies(tmp_path)
    arch = copy / "architecture.md"
    text = arch.read_text()
    assert "n_cilium_release -. depends_on .-> n_nodes_general_mng" in text
    hand_written = text.split("<!-- END GENERATED dependency-graph -->")[1]
    arch.write_text(text.replace("n_cilium_release -. depends_on .-> n_nodes_general_mng\n", ""))

    assert docs.main(["--check", *where]) == 1
    assert "architecture.md is out of date" in capsys.readouterr().err
    assert docs.main(where) == 0
    assert docs.main(["--check", *where]) == 0
    fixed = arch.read_text()
    assert fixed == read("architecture.md")
    assert fixed.split("<!-- END GENERATED dependency-graph -->")[1] == hand_written


def test_a_doc_without_its_markers_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy, _, where = copies(tmp_path)
    (copy / "configuration.md").write_text("# Configuration\n\nno markers here\n")
    assert docs.main(["--check", *where]) == 1
    assert "BEGIN GENERATED reference" in capsys.readouterr().err


def test_every_config_key_is_documented() -> None:
    text = read("configuration.md")
    for key in CONFIG_KEYS:
        assert f"### `{key.name}`" in text, key.name
        assert key.description in text, key.name
        assert f"[`{key.name}`](#{key.name.lower()})" in text, key.name


def test_configuration_reference_shows_each_stacks_values() -> None:
    summary = section(read("configuration.md"), "reference").split("## Keys")[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| \[`(\w+)`\].*$", summary, re.M)}
    stacks = list(stack_files())
    assert f"| Key | Type | Default | {' | '.join(stacks)} |" in summary
    for stack in stacks:
        for full, value in stack_config(stack).items():
            key = full.split(":", 1)[1]
            if not full.startswith("cilium-eks:") or isinstance(value, dict):
                continue
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            if isinstance(value, list):
                assert all(v in rows[key] for v in value), (stack, key)
            else:
                assert f"`{shown}`" in rows[key], (stack, key, rows[key])


def test_object_valued_keys_document_their_fields() -> None:
    text = read("configuration.md")
    node_groups = text.split("### `nodeGroups`")[1].split("\n### ")[0]
    assert set(docs.NODE_GROUP_FIELDS) == set(_NODE_GROUP_FIELDS)
    for field in _NODE_GROUP_FIELDS:
        assert f"| `{field}` |" in node_groups, field
    for stack in stack_files():
        for group in stack_config(stack)["cilium-eks:nodeGroups"]:
            assert f"  {group}:" in node_groups, (stack, group)
    extra = text.split("### `ciliumExtraValues`")[1].split("\n### ")[0]
    for path in [*REMOVED_CILIUM_VALUES, *PROGRAM_OWNED_CILIUM_VALUES]:
        assert f"`{path}`" in extra, path
    assert all(k.type != "object" or k.name in docs.OBJECT_FIELDS for k in CONFIG_KEYS)


def test_upgrade_guide_lists_the_versions_the_validator_accepts() -> None:
    versions = section(read("upgrading.md"), "versions")
    for v in SUPPORTED_KUBERNETES_VERSIONS:
        assert f"`{v}`" in versions
    assert f"default `{CONFIG_KEYS_BY_NAME['ciliumVersion'].default}`" in versions
    for stack in stack_files():
        assert re.search(rf"^\| {stack} \| `1\.\d+` \| `\d+\.\d+\.\d+` \|$", versions, re.M), stack


def test_upgrade_guide_ties_to_plan_and_verify() -> None:
    text = read("upgrading.md")
    for needle in ("make plan STACK=", "make preview STACK=", "make verify STACK=",
                   "python -m tooling.verify --stack", "--set ciliumVersion="):
        assert needle in text, needle


def test_pulumi_yaml_declares_every_typed_key_exactly_as_the_code_does() -> None:
    text = (PROJECT_DIR / "Pulumi.yaml").read_text()
    project = yaml.safe_load(text)
    declared = project["config"]
    typed = {k.name: k for k in CONFIG_KEYS if k.type != "object"}
    assert list(declared) == list(typed), "same keys, in the order of CONFIG_KEYS"
    for name, decl in declared.items():
        key = typed[name]
        want = {"type": key.type, "default": key.default, "description": key.description}
        if key.type == "array":
            want["items"] = {"type": "string"}
        assert decl == want, name
        assert type(decl["default"]) is type(key.default), name  # `2`, not `"2"`; `true`, not `"true"`
    block = text[text.index("\nconfig:\n") + 1:]
    for key in CONFIG_KEYS:
        if key.type == "object":  # Pulumi cannot type it: documented in a comment instead
            assert f"  #   {key.name}: {key.description}\n" in block, key.name
        if key.choices:  # Pulumi has no enum: said in a comment of the key
            assert f"\n  {key.name}:\n    # One of: {', '.join(key.choices)}.\n" in block, key.name
    assert project["name"] == "cilium-eks" and project["runtime"]["name"] == "python"


def test_the_config_block_generator_writes_what_yaml_reads_back() -> None:
    """Values YAML would otherwise retype (a version like 1.30, `yes`, `null`, a leading `*`,
    a colon) stay strings; a bare Pulumi.yaml gets the block appended."""
    tricky = ("1.30", "yes", "null", "*all", "a: b", "", "it's `x`", "#not a comment")
    keys = tuple(ConfigKey(f"k{i}", "string", v, v or "empty") for i, v in enumerate(tricky))
    keys += (ConfigKey("n", "integer", 0, "zero"), ConfigKey("b", "boolean", False, "off"),
             ConfigKey("a", "array", ["1.0", "on"], "list"))
    loaded = yaml.safe_load(docs.render_pulumi_yaml("name: x\n", docs.config_block(keys)))
    assert loaded["name"] == "x"
    for key in keys:
        assert loaded["config"][key.name]["default"] == key.default, key.name
        assert type(loaded["config"][key.name]["default"]) is type(key.default), key.name
        assert loaded["config"][key.name]["description"] == key.description, key.name


def test_architecture_layout_names_every_part_with_its_job_and_rule() -> None:
    text = section(read("architecture.md"), "layout")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+?)/?` \|.*$", text, re.M)}
    for part in layout.existing_parts():
        shown = "Pulumi.<stack>.yaml" if part.pattern else part.path
        assert shown in rows, part.path
        if part.docstring_of:  # the job is the module's own first paragraph, not a copy kept by hand
            first = layout.first_paragraph(layout.docstring(PROJECT_DIR / part.docstring_of) or "")
            assert first.split(" ")[:4] == rows[shown].split(" | ")[1].split(" ")[:4], part.path
    for area, rule in layout.IMPORT_RULES.items():
        assert area in rows, area
        assert ("anything" in rows[area]) == rule.unrestricted, area
        assert rule.why in text, area


def test_architecture_explains_every_component() -> None:
    text = read("architecture.md")
    hand_written = text.split("<!-- END GENERATED dependency-graph -->")[1]
    components = sorted({m.group(1) for f in (PROJECT_DIR / "components").glob("*.py")
                         for m in re.finditer(r'TYPE_TOKEN = "cilium-eks:components:(\w+)"', f.read_text())})
    assert len(components) >= 6
    for name in components:
        assert f"**{name}**" in hand_written, f"docs/architecture.md does not explain component {name}"
    for why in ("skip_await", "agent-not-ready", "manual restart", "depends_on"):
        assert why in hand_written


def test_architecture_graph_is_mermaid_with_the_release_before_the_nodes() -> None:
    graph = section(read("architecture.md"), "dependency-graph")
    block = graph.split("```mermaid\n")[1].split("```")[0]
    assert block.startswith("flowchart LR\n")
    assert "n_cilium_release -. depends_on .-> n_nodes_general_mng" in block
    assert "ok: nodes-general-mng waits for cilium-release" in graph
    assert "WARNING" not in graph


#: entry topic -> the config key its fix uses (None: the fix is not a config change)
TROUBLESHOOTING_TOPICS: dict[str, str | None] = {
    "No more IPs": "ciliumPrefixDelegation",
    "UnauthorizedOperation": "ciliumExtraValues",
    "agent-not-ready": None,
    "aws-node is back": "awsNodeMode",
    "kube-proxy replacement": "ciliumKubeProxyReplacement",
    "4244": "ciliumExtraValues",
    "ens5": "ciliumExtraValues",
    "Cilium alerts": "observability",
    "WireGuard": "ciliumEncryption",
}


def test_troubleshooting_entries_have_symptom_cause_command_fix_and_sources() -> None:
    text = read("troubleshooting.md")
    entries = re.split(r"^## \d+\. ", text, flags=re.M)[1:]
    assert len(entries) == len(TROUBLESHOOTING_TOPICS)
    for topic, key in TROUBLESHOOTING_TOPICS.items():
        entry = next((e for e in entries if topic in e.splitlines()[0] or topic in e), None)
        assert entry is not None, topic
        for part in ("**Symptom.**", "**Cause.**", "**Show it.**", "**Fix in this project.**", "```sh"):
            assert part in entry, (topic, part)
        fix = entry.split("**Fix in this project.**")[1]
        if key is not None:
            assert key in CONFIG_KEYS_BY_NAME, key
            assert f"`{key}" in fix, (topic, key)
        assert re.search(r"https://(github\.com/(cilium|aws|awslabs|kubernetes)/|docs\.cilium\.io/|"
                         r"docs\.aws\.amazon\.com/)", entry), topic


def test_internal_doc_links_point_at_existing_files_and_headings() -> None:
    for doc in [*DOCS.glob("*.md"), PROJECT_DIR / "README.md", PROJECT_DIR / "policies" / "README.md"]:
        text = doc.read_text()
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([\w-]+))?\)", text):
            path = (doc.parent / target) if target else doc
            assert path.exists(), (doc.name, target)
            if anchor:
                headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
                assert anchor in slugs, (doc.name, target, anchor)
