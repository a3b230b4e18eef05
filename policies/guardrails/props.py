"""Reading resource properties the way CrossGuard hands them to a policy.

Facts this module is built on (pulumi-policy 1.21, ``pulumi_policy/policy.py`` and
``proxy.py``; pulumi engine ``sdk/go/common/resource/plugin/analyzer_plugin.go``):

* ``props`` are keyed as the engine sees them: camelCase (``skipAwait``, ``vpcConfig``),
  nested maps and lists as plain Python values, secrets already unwrapped, resource
  references downgraded to the referenced resource's ID (or URN when it has none).
* During ``pulumi preview`` a value that depends on an output not yet known is a sentinel
  string; the SDK wraps ``props`` in a proxy whose ``__getitem__`` raises
  ``UnknownValueError`` for it. Left uncaught, the SDK turns it into one advisory note
  "can't run policy ... during preview" and drops the rest of that validator's checks.
  The helpers here turn an unknown into ``UNKNOWN`` instead, so a validator checks every
  value it *can* see and defers only what it cannot (see :class:`Deferred`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from pulumi_policy import PolicyConfigSchema
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"


#: A value CrossGuard could not know yet (preview of a value computed from an output).
UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def get(obj: Any, key: str | int, default: Any = None) -> Any:
    """``obj[key]``; ``default`` when absent; ``UNKNOWN`` when it (or ``obj``) is unknown."""
    if obj is UNKNOWN:
        return UNKNOWN
    if isinstance(key, int):
        if not _is_list(obj) or not -len(obj) <= key < len(obj):
            return default
    elif not isinstance(obj, Mapping):
        return default
    try:
        value = obj[key]
    except (KeyError, IndexError):
        return default
    except UnknownValueError:
        return UNKNOWN
    return default if value is None else value


def path(obj: Any, dotted: str, default: Any = None) -> Any:
    """``get`` along a dotted path of map keys, e.g. ``path(values, "hubble.ui.enabled")``."""
    cur = obj
    for part in dotted.split("."):
        cur = get(cur, part, _MISSING)
        if cur is _MISSING:
            return default
        if cur is UNKNOWN:
            return UNKNOWN
    return cur


_MISSING: Any = object()


def _is_list(obj: Any) -> bool:
    return isinstance(obj, Sequence) and not isinstance(obj, (str, bytes))


def keys(obj: Any) -> list[str]:
    """The keys of a map (iterating the SDK's proxy never touches the values)."""
    return [str(k) for k in obj] if isinstance(obj, Mapping) else []


def elements(obj: Any) -> list[Any]:
    """The elements of a list, unknown ones as ``UNKNOWN``; ``[]`` for anything else."""
    if not _is_list(obj):
        return []
    return [get(obj, i) for i in range(len(obj))]


def plain(obj: Any) -> Any:
    """A plain copy (dicts, lists, leaves) of a property value, unknowns as ``UNKNOWN``."""
    if obj is UNKNOWN:
        return UNKNOWN
    if isinstance(obj, Mapping):
        return {k: plain(get(obj, k)) for k in keys(obj)}
    if _is_list(obj):
        return [plain(v) for v in elements(obj)]
    return obj


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every dotted key path of a nested map, with its value (maps included)."""
    out: dict[str, Any] = {}
    for k in keys(obj):
        value = get(obj, k)
        dotted = f"{prefix}{k}"
        out[dotted] = value
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
    return out


def json_document(value: Any) -> Any:
    """An IAM-style JSON document given as text or as a map: a plain dict, ``UNKNOWN``,
    or ``None`` when absent or not a JSON object."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    value = plain(value)
    return value if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any]:
    """IAM fields take a string or a list of strings."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or value is UNKNOWN:
        return [value]
    return elements(value) if _is_list(value) else [value]


def world_open(cidr: Any) -> bool:
    """True for a CIDR that admits every address (``0.0.0.0/0``, ``::/0``)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


# --------------------------------------------------------------------------------------
# Resource identity
# --------------------------------------------------------------------------------------

def urn_type(urn: str | None) -> str | None:
    """The resource type a URN names (the last segment of its qualified type)."""
    if not urn:
        return None
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else None


def urn_name(urn: str | None) -> str:
    return urn.split("::")[-1] if urn else ""


# --------------------------------------------------------------------------------------
# Policy plumbing
# --------------------------------------------------------------------------------------


def settings(config: Mapping[str, Any], schema: PolicyConfigSchema | None) -> dict[str, Any]:
    """The policy's configuration: the schema's defaults overlaid with what the pack config
    sets (the engine may or may not have filled the defaults in already)."""
    out: dict[str, Any] = {}
    if schema is not None:
        out.update({k: v["default"] for k, v in schema.properties.items() if "default" in v})
    out.update({k: v for k, v in config.items() if k != "enforcementLevel"})
    return out


def explain(what: str, why: str, fix: str) -> str:
    """A violation message: what is wrong, why it matters here, how to fix it."""
    return f"{what}\nWhy: {why}\nFix: {fix}"


class Deferred:
    """Collects the first value a validator could not see during preview.

    A validator reports everything it can decide, then calls :meth:`finish`, which raises
    the SDK's own ``UnknownValueError`` so the engine shows its standard advisory note
    ("can't run policy ... during preview") for what was left undecided; ``pulumi up``
    knows every value and decides it then.
    """

    def __init__(self) -> None:
        self.first: str | None = None

    def unknown(self, where: str) -> None:
        if self.first is None:
            self.first = where

    def check(self, value: Any, where: str) -> bool:
        """True when ``value`` is known; records ``where`` otherwise."""
        if value is UNKNOWN:
            self.unknown(where)
            return False
        return True

    def finish(self) -> None:
        if self.first is not None:
            undecidable(self.first)


def undecidable(where: str) -> NoReturn:
    """Stop a validator on a value it needs but cannot see during preview, the way the SDK
    does when a validator reads an unknown value directly."""
    raise UnknownValueError(UNKNOWN_STRING_VALUE, where.split("."))
