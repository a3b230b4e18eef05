"""What every contract shares: the error for an unusable upstream artifact, the YAML loader,
paths and problems in one readable form, and a schema-aware walk over a JSON Schema."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

#: libyaml when present: the CRDs are 13,000 lines.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ContractError(Exception):
    """An upstream artifact is missing or cannot be used to check anything."""


def field_path(parts: Iterable[Any]) -> str:
    """``spec.template.spec.containers[0].name`` from its parts; ``(root)`` for none."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def non_json_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """Paths whose value is not plain JSON data: an Output unknown at plan time, a
    resource reference, a secret wrapper. Such values cannot be checked against a schema."""
    if isinstance(value, Mapping):
        out: list[str] = []
        for k, v in value.items():
            if not isinstance(k, str):
                out.append(f"`{field_path((*path, k))}`: key {k!r} is not a string")
            out += non_json_leaves(v, (*path, k))
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_json_leaves(v, (*path, i))]
    if value is None or isinstance(value, (str, bool, int, float)):
        return []
    return [f"`{field_path(path)}`: {value!r} is not plain JSON data (unknown at plan time?), it cannot be checked"]


def schema_errors(validator: Any, instance: Any) -> list[str]:
    """Every error a ``jsonschema`` validator finds in ``instance``, in a stable order."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"`{field_path(e.absolute_path)}`: {e.message}" for e in errors]


def walk_schema(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``fn`` to every schema object under ``node`` (schema-aware: a property named
    ``required`` is a property, not the keyword)."""
    if not isinstance(node, dict):
        return
    fn(node)
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for sub in (node.get(key) or {}).values():
            walk_schema(sub, fn)
    for key in ("items", "additionalProperties", "not"):
        walk_schema(node.get(key), fn)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            walk_schema(sub, fn)
