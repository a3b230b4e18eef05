"""Contract 1: Helm values vs the pinned chart.

The chart's ``values.schema.json`` (types, enums), plus the key paths of its ``values.yaml``,
because the schema accepts unknown keys (a typo, or ``tunnel`` which the chart removed,
would otherwise pass silently). ``helm_values_problems`` is the one check.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators
import yaml

from .common import YAML_LOADER, ContractError, non_json_leaves, schema_errors

#: Keys that exist in the chart only as comments in values.yaml (e.g. ``# egressMasqueradeInterfaces: ""``)
#: and that the program really sets. Each entry must still be found as a commented key in the
#: pinned values.yaml, or it is reported like any undefined key. Empty: the program needs none.
COMMENTED_VALUE_PATHS: frozenset[str] = frozenset()

#: Kubernetes API objects the chart renders verbatim (``toYaml``) into its manifests. Their
#: values.yaml entry is an example default (``nodeSelector: {kubernetes.io/os: linux}``), not a
#: closed set of keys, so the key check stops there and leaves the type to the schema.
PASS_THROUGH_VALUE_KEYS: frozenset[str] = frozenset(
    {"nodeSelector", "affinity", "resources", "podSecurityContext", "updateStrategy"})


@dataclass(frozen=True)
class ChartReference:
    """What the pinned chart publishes about its values (read-only)."""

    version: str
    defaults: Mapping[str, Any]  # values.yaml, parsed
    values_yaml: str  # values.yaml as text: keys documented only in comments live there
    schema: Mapping[str, Any]  # values.schema.json


@functools.cache
def load_chart_reference(reference_dir: Path, version: str) -> ChartReference:
    """The chart reference for ``version`` under ``reference_dir`` (``<dir>/<version>/``)."""
    root = Path(reference_dir) / version
    files = {name: root / name for name in ("values.yaml", "values.schema.json")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        have = sorted(p.name for p in Path(reference_dir).iterdir() if p.is_dir() and p.name[:1].isdigit()) \
            if Path(reference_dir).is_dir() else []
        raise ContractError(f"no reference data for Cilium chart {version}: missing {', '.join(missing)} "
                            f"(reference versions available: {', '.join(have) or 'none'}); add the chart's "
                            "values.yaml and values.schema.json for that version to the reference data")
    text = files["values.yaml"].read_text()
    return ChartReference(version=version, defaults=yaml.load(text, Loader=YAML_LOADER) or {}, values_yaml=text,
                          schema=json.loads(files["values.schema.json"].read_text()))


def values_schema_problems(values: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every error of ``values`` against the chart's values.schema.json (draft-07)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return schema_errors(cls(schema), values)


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w./-]*):(?:\s|$)")
_COMMENTED_KEY_LINE = re.compile(r"^(?P<indent> *)# ?(?P<key>[A-Za-z_][\w.-]*):(?:\s+(?P<value>.*))?$")


def commented_value_paths(values_yaml: str) -> frozenset[str]:
    """Key paths values.yaml documents only as comments (``# key: default``), with their
    parents taken from the indentation of the real keys around them. ``@schema`` blocks
    and ``ref: <url>`` notes are not keys."""
    parents: list[tuple[int, str]] = []
    found: set[str] = set()
    in_schema_block = False
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if stripped == "# @schema":
            in_schema_block = not in_schema_block
            continue
        if in_schema_block or not stripped:
            continue
        m = _KEY_LINE.match(line)
        if m:
            indent = len(m["indent"])
            while parents and parents[-1][0] >= indent:
                parents.pop()
            parents.append((indent, m["key"]))
            continue
        m = _COMMENTED_KEY_LINE.match(line)
        if m and not (m["value"] or "").startswith("http"):
            indent = len(m["indent"])
            scope = [k for i, k in parents if i < indent]
            found.add(".".join([*scope, m["key"]]))
    return frozenset(found)


def undefined_value_paths(values: Mapping[str, Any], chart: ChartReference, *,
                          allowed_commented: Iterable[str] = COMMENTED_VALUE_PATHS,
                          pass_through: Iterable[str] = PASS_THROUGH_VALUE_KEYS) -> list[str]:
    """Key paths of ``values`` that the chart's values.yaml does not define.

    The walk descends only into maps that values.yaml defines with sub-keys. It stops at
    lists (``eni.subnetTagsFilter``, ``extraArgs``), at empty or null defaults (free-form
    maps such as annotations) and at ``pass_through`` keys; below those, the schema
    checks types. A path in ``allowed_commented`` is accepted only if values.yaml really
    documents it as a commented key.
    """
    commented = commented_value_paths(chart.values_yaml)
    allowed = {p for p in allowed_commented if p in commented}
    opaque = frozenset(pass_through)
    problems: list[str] = []

    def walk(given: Mapping[str, Any], defined: Mapping[str, Any], prefix: str) -> None:
        for key, value in given.items():
            path = f"{prefix}{key}"
            if key not in defined:
                if path in allowed:
                    continue
                close = difflib.get_close_matches(str(key), [str(k) for k in defined], n=1)
                hint = f"; did you mean `{prefix}{close[0]}`?" if close else ""
                why = " (values.yaml only mentions it in a comment: add it to COMMENTED_VALUE_PATHS if the " \
                      "program really needs it)" if path in commented else ""
                problems.append(f"`{path}` is not defined by the cilium {chart.version} chart's values.yaml"
                                f"{why}{hint}")
                continue
            default = defined[key]
            if isinstance(value, Mapping) and isinstance(default, Mapping) and default and key not in opaque:
                walk(value, default, path + ".")

    walk(values, chart.defaults, "")
    return problems


def helm_values_problems(values: Mapping[str, Any], chart: ChartReference, *,
                         allowed_commented: Iterable[str] = COMMENTED_VALUE_PATHS) -> list[str]:
    """Everything the pinned chart would refuse or silently ignore in ``values``."""
    not_plain = non_json_leaves(values)
    if not_plain:
        return not_plain
    return [*values_schema_problems(values, chart.schema),
            *undefined_value_paths(values, chart, allowed_commented=allowed_commented)]
