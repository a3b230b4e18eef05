"""Contracts with the real upstream artifacts, as pure checks.

No AWS account or API server is needed to know that a real ``pulumi up`` would be
refused: the chart, the Kubernetes API and the Cilium CRDs publish the schemas they
enforce. Each check below takes plain data (what the engine receives: camelCase inputs)
and an upstream artifact, and returns *every* problem found as a readable string; an
empty list means the contract holds. The tests, the offline plan and the policy pack
share these functions.

* Helm values vs the pinned chart (``helm_values_problems``): the chart's
  ``values.schema.json`` (types, enums), plus the key paths of its ``values.yaml``,
  because the schema accepts unknown keys (a typo, or ``tunnel`` which the chart
  removed, would otherwise pass silently).
* Kubernetes objects vs the OpenAPI schema of the cluster's Kubernetes version
  (``kubernetes_object_problems``), offline, from the schemas ``kubernetes-validate``
  ships, in their strict form (unknown fields are errors). Pulumi ``...Patch`` types are
  server-side-apply patches: partial objects. They are held to ``partial_schema``: every
  field they set must exist in the full type with the right type, no field is required
  except what identifies the object (``metadata.name``) and what identifies an element
  of an associative list (its list-map keys that the full type requires, e.g. a
  container's ``name``).
* Cilium custom resources vs ``spec.versions[].schema.openAPIV3Schema`` of their CRD
  (``custom_resource_problems``), with the API server's structural-schema semantics
  translated to JSON Schema (see ``crd_schema_to_jsonschema``).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators
import yaml
from referencing import Registry, Resource

# libyaml when present: the CRDs are 13,000 lines.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# --------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------


class ContractError(Exception):
    """An upstream artifact is missing or cannot be used to check anything."""


def _path(parts: Iterable[Any]) -> str:
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
                out.append(f"`{_path((*path, k))}`: key {k!r} is not a string")
            out += non_json_leaves(v, (*path, k))
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_json_leaves(v, (*path, i))]
    if value is None or isinstance(value, (str, bool, int, float)):
        return []
    return [f"`{_path(path)}`: {value!r} is not plain JSON data (unknown at plan time?), it cannot be checked"]


def _schema_errors(validator: Any, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"`{_path(e.absolute_path)}`: {e.message}" for e in errors]


# --------------------------------------------------------------------------------------
# 1. Helm values vs the pinned chart
# --------------------------------------------------------------------------------------

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
    return ChartReference(version=version, defaults=yaml.load(text, Loader=_YAML_LOADER) or {}, values_yaml=text,
                          schema=json.loads(files["values.schema.json"].read_text()))


def values_schema_problems(values: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every error of ``values`` against the chart's values.schema.json (draft-07)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return _schema_errors(cls(schema), values)


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


# --------------------------------------------------------------------------------------
# 2. Kubernetes objects vs the OpenAPI schema of the cluster's version
# --------------------------------------------------------------------------------------

#: Groups of pulumi-kubernetes type tokens that are not API objects (releases, bundles).
NON_OBJECT_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})
_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class KubernetesType:
    """What a pulumi-kubernetes type token declares: ``kubernetes:apps/v1:DaemonSetPatch``
    is a patch of ``apps/v1`` ``DaemonSet``."""

    group: str  # "" for the core group
    version: str
    kind: str
    patch: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def kubernetes_type(type_token: str) -> KubernetesType | None:
    """The API object a type token declares, or None for tokens that are no API object
    (Helm releases, yaml/kustomize bundles, providers, components)."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group, version = parts[1].rsplit("/", 1)
    if group in NON_OBJECT_GROUPS:
        return None
    kind = parts[2]
    patch = kind.endswith("Patch") and len(kind) > len("Patch")
    return KubernetesType(group="" if group == "core" else group, version=version,
                          kind=kind.removesuffix("Patch") if patch else kind, patch=patch)


def _schema_root() -> Path:
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


def supported_kubernetes_versions() -> list[str]:
    """Kubernetes minors whose strict schemas kubernetes-validate ships."""
    found = [m[1] for d in _schema_root().iterdir() if (m := re.fullmatch(r"v(\d+\.\d+)\.0-local-strict", d.name))]
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


@functools.cache
def _schema_dir(kubernetes_version: str) -> Path:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", kubernetes_version)
    if not m:
        raise ContractError(f"{kubernetes_version!r} is not a Kubernetes version like 1.34")
    path = _schema_root() / f"v{m[1]}.{m[2]}.0-local-strict"
    if not path.is_dir():
        raise ContractError(f"kubernetes-validate ships no schema for Kubernetes {m[1]}.{m[2]} (it has "
                            f"{', '.join(supported_kubernetes_versions())}); upgrade kubernetes-validate")
    return path


def _walk_schema(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``fn`` to every schema object under ``node`` (schema-aware: a property named
    ``required`` is a property, not the keyword)."""
    if not isinstance(node, dict):
        return
    fn(node)
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for sub in (node.get(key) or {}).values():
            _walk_schema(sub, fn)
    for key in ("items", "additionalProperties", "not"):
        _walk_schema(node.get(key), fn)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            _walk_schema(sub, fn)


def _def_name(ref: str) -> str | None:
    return ref.split("#/$defs/", 1)[1] if "#/$defs/" in ref else None


def partial_schema(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a server-side-apply patch of ``schema``'s type (a copy; nothing is
    changed in place).

    Every ``required`` is dropped: a patch names only the fields it owns. Field names and
    types, enums and ``additionalProperties: false`` stay, so a field the full type does
    not have, or a value of the wrong type, is still an error. What the server needs to
    merge a patch stays required: the element of an associative list
    (``x-kubernetes-list-map-keys``) keeps those of its keys that the full type requires
    (a container's ``name``, a service port's ``port``). Works on a type schema and on
    ``_definitions.json`` alike; ``definitions`` are the original ``$defs``.
    """
    out = copy.deepcopy(dict(schema))
    original = definitions

    def relax(node: dict[str, Any]) -> None:
        node.pop("required", None)

    def identify_list_elements(node: dict[str, Any]) -> None:
        for prop in (node.get("properties") or {}).values():
            keys = prop.get("x-kubernetes-list-map-keys") if isinstance(prop, dict) else None
            items = prop.get("items") if isinstance(prop, dict) else None
            if not keys or not isinstance(items, dict) or "$ref" not in items:
                continue
            name = _def_name(items["$ref"])
            required = set((original.get(name) or {}).get("required") or []) if name else set()
            identity = [k for k in keys if k in required]
            if identity:
                prop["items"] = {"allOf": [items, {"required": identity}]}

    _walk_schema(out, relax)
    _walk_schema(out, identify_list_elements)  # after relax, which would drop these `required`
    return out


@functools.cache
def _definitions(kubernetes_version: str, partial: bool) -> dict[str, Any]:
    defs = json.loads((_schema_dir(kubernetes_version) / "_definitions.json").read_text())
    return partial_schema(defs, defs["$defs"]) if partial else defs


@functools.cache
def _registry(kubernetes_version: str, partial: bool) -> Registry:
    return Resource.from_contents(_definitions(kubernetes_version, partial)) @ Registry()


def _type_schema_file(t: KubernetesType, kubernetes_version: str) -> Path:
    # kubernetes-validate names files <kind>-<first label of the group>-<version>.json
    group = t.group.split(".")[0]
    return _schema_dir(kubernetes_version) / (f"{t.kind.lower()}-{group}-{t.version}.json" if group
                                               else f"{t.kind.lower()}-{t.version}.json")


@functools.cache
def _type_schema(t: KubernetesType, kubernetes_version: str) -> dict[str, Any] | None:
    """The strict schema of a built-in kind, or None if the version has no such kind."""
    path = _type_schema_file(t, kubernetes_version)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    # The file name keeps only the group's first label: make sure it is this group's kind.
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("group", "") == t.group and g.get("version") == t.version and g.get("kind") == t.kind
               for g in gvks):
        return None
    return schema


def is_builtin_kind(t: KubernetesType, kubernetes_version: str) -> bool:
    """True when ``t`` is a kind the Kubernetes API of that version serves itself."""
    return _type_schema(t, kubernetes_version) is not None


@functools.cache
def _object_validator(t: KubernetesType, kubernetes_version: str) -> Any:
    schema = _type_schema(t, kubernetes_version)
    if schema is None:
        raise ContractError(f"Kubernetes {kubernetes_version} has no built-in kind {t.api_version} {t.kind}")
    if t.patch:
        schema = partial_schema(schema, _definitions(kubernetes_version, False)["$defs"])
    return jsonschema.Draft202012Validator(schema, registry=_registry(kubernetes_version, t.patch))


def _identity_problems(obj: Mapping[str, Any], t: KubernetesType) -> list[str]:
    problems = []
    if obj.get("apiVersion") != t.api_version:
        problems.append(f"`apiVersion`: {obj.get('apiVersion')!r} does not match the declared type {t.api_version}")
    if obj.get("kind") != t.kind:
        problems.append(f"`kind`: {obj.get('kind')!r} does not match the declared type {t.kind}")
    return problems


def kubernetes_object_problems(obj: Mapping[str, Any], t: KubernetesType, kubernetes_version: str) -> list[str]:
    """Every reason the API server of ``kubernetes_version`` would refuse ``obj`` (the
    inputs of a pulumi-kubernetes resource of type ``t``), checked offline against the
    strict OpenAPI schema; patches against its ``partial_schema`` plus ``metadata.name``."""
    not_plain = non_json_leaves(obj)
    if not_plain:
        return not_plain
    problems = _identity_problems(obj, t)
    if t.patch:
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            problems.append("`metadata.name`: a patch must name the existing object it patches")
    return problems + _schema_errors(_object_validator(t, kubernetes_version), obj)


# --------------------------------------------------------------------------------------
# 3. Custom resources vs their CRD
# --------------------------------------------------------------------------------------

#: CEL rules (``x-kubernetes-validations``) of the CRDs, translated to JSON Schema. A CRD
#: with a rule not listed here cannot be loaded: a new rule must be translated, not skipped.
CEL_RULE_TRANSLATIONS: Mapping[str, Mapping[str, Any]] = {
    "has(self.spec) || has(self.specs)": {"anyOf": [{"required": ["spec"]}, {"required": ["specs"]}]},
}


def crd_schema_to_jsonschema(openapi: Mapping[str, Any], *, close_objects: bool = True) -> dict[str, Any]:
    """A CRD's structural ``openAPIV3Schema`` as JSON Schema with the API server's meaning.

    ``nullable`` adds null to the type; ``x-kubernetes-int-or-string`` means integer or
    string; CEL rules become their ``CEL_RULE_TRANSLATIONS``. With ``close_objects``
    (default), an object that lists its ``properties`` and neither ``additionalProperties``
    nor ``x-kubernetes-preserve-unknown-fields`` refuses other fields: the server would
    prune them, silently dropping what the author meant (and strict field validation
    refuses them). Only structural positions are closed, never the ``anyOf``/``oneOf``
    branches, which in a structural schema only restate properties to require them.
    """
    out = copy.deepcopy(dict(openapi))

    def convert(node: dict[str, Any]) -> None:
        if node.get("nullable") is True and "type" in node:
            node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
        if node.get("x-kubernetes-int-or-string") is True and "type" not in node and "anyOf" not in node:
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        rules = node.get("x-kubernetes-validations") or []
        for rule in rules:
            text = rule.get("rule", "")
            if text not in CEL_RULE_TRANSLATIONS:
                raise ContractError(f"CEL rule {text!r} ({rule.get('message', '')}) has no JSON Schema translation; "
                                    "add one to CEL_RULE_TRANSLATIONS")
        if rules:
            node["allOf"] = [*node.get("allOf", []), *(CEL_RULE_TRANSLATIONS[r["rule"]] for r in rules)]

    def close(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if ("properties" in node and "additionalProperties" not in node
                and node.get("x-kubernetes-preserve-unknown-fields") is not True):
            node["additionalProperties"] = False
        for sub in (node.get("properties") or {}).values():
            close(sub)
        close(node.get("items"))
        if isinstance(node.get("additionalProperties"), dict):
            close(node["additionalProperties"])

    _walk_schema(out, convert)
    if close_objects:
        close(out)
    return out


@dataclass(frozen=True, eq=False)  # identity hash: load_crds is cached, the schema is a dict
class CustomResourceDefinition:
    group: str
    version: str
    kind: str
    namespaced: bool
    schema: Mapping[str, Any]  # JSON Schema (crd_schema_to_jsonschema of openAPIV3Schema)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@functools.cache
def load_crds(crd_dir: Path) -> Mapping[tuple[str, str], CustomResourceDefinition]:
    """Every served version of every CRD in the YAML files of ``crd_dir``, by (apiVersion, kind)."""
    crd_dir = Path(crd_dir)
    files = sorted(crd_dir.glob("*.yaml")) + sorted(crd_dir.glob("*.yml")) if crd_dir.is_dir() else []
    out: dict[tuple[str, str], CustomResourceDefinition] = {}
    for f in files:
        for doc in yaml.load_all(f.read_text(), Loader=_YAML_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for v in spec.get("versions") or []:
                openapi = ((v.get("schema") or {}).get("openAPIV3Schema"))
                if not v.get("served", True) or openapi is None:
                    continue
                crd = CustomResourceDefinition(group=spec["group"], version=v["name"], kind=spec["names"]["kind"],
                                               namespaced=spec.get("scope") == "Namespaced",
                                               schema=crd_schema_to_jsonschema(openapi))
                out[(crd.api_version, crd.kind)] = crd
    if not out:
        raise ContractError(f"no CustomResourceDefinition with a schema in {crd_dir}")
    return out


@functools.cache
def _custom_resource_validator(crd: CustomResourceDefinition, kubernetes_version: str | None) -> Any:
    schema = copy.deepcopy(dict(crd.schema))
    if kubernetes_version is not None:
        # The API server validates a custom resource's metadata as ObjectMeta; the CRD
        # itself only says `type: object`.
        schema.setdefault("properties", {})["metadata"] = {"$ref": f"{_DEFS_URI}#/$defs/{_OBJECT_META}"}
        return jsonschema.Draft202012Validator(schema, registry=_registry(kubernetes_version, False))
    return jsonschema.Draft202012Validator(schema)


def custom_resource_problems(obj: Mapping[str, Any], crds: Mapping[tuple[str, str], CustomResourceDefinition],
                             kubernetes_version: str | None = None) -> list[str]:
    """Every reason the API server would refuse custom resource ``obj`` given its CRD (and,
    with ``kubernetes_version``, the ObjectMeta of that version for its metadata)."""
    not_plain = non_json_leaves(obj)
    if not_plain:
        return not_plain
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    crd = crds.get((api_version, kind))
    if crd is None:
        known = ", ".join(f"{a} {k}" for a, k in sorted(crds)) or "none"
        return [f"no CRD defines {api_version} {kind} (known: {known})"]
    problems = _schema_errors(_custom_resource_validator(crd, kubernetes_version), obj)
    if not crd.namespaced and (obj.get("metadata") or {}).get("namespace"):
        problems.append(f"`metadata.namespace`: {crd.kind} is cluster-scoped; remove the namespace")
    return problems


# --------------------------------------------------------------------------------------
# One entry point per declared resource (for the plan and the policy pack)
# --------------------------------------------------------------------------------------


def declared_kubernetes_object_problems(
        type_token: str, inputs: Mapping[str, Any], kubernetes_version: str,
        crds: Mapping[tuple[str, str], CustomResourceDefinition] | None = None) -> list[str] | None:
    """Contract 2 or 3 for one declared resource, chosen by its type token: None when the
    token is no Kubernetes API object; a problem when no schema is known for it (a kind
    that cannot be checked is reported, never passed)."""
    t = kubernetes_type(type_token)
    if t is None:
        return None
    if is_builtin_kind(t, kubernetes_version):
        return kubernetes_object_problems(inputs, t, kubernetes_version)
    if crds is not None and (t.api_version, t.kind) in crds and not t.patch:
        return _identity_problems(inputs, t) + custom_resource_problems(inputs, crds, kubernetes_version)
    return [f"no schema for {t.api_version} {t.kind}{' (patch)' if t.patch else ''}: neither built into "
            f"Kubernetes {kubernetes_version} nor a known CRD"]
