"""Contract 2: Kubernetes objects vs the OpenAPI schema of the cluster's Kubernetes version.

Checked offline (``kubernetes_object_problems``) against the schemas ``kubernetes-validate``
ships, in their strict form (unknown fields are errors). Pulumi ``...Patch`` types are
server-side-apply patches: partial objects. They are held to ``partial_schema``: every field
they set must exist in the full type with the right type, no field is required except what
identifies the object (``metadata.name``) and what identifies an element of an associative
list (its list-map keys that the full type requires, e.g. a container's ``name``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from .common import ContractError, non_json_leaves, schema_errors, walk_schema

#: Groups of pulumi-kubernetes type tokens that are not API objects (releases, bundles).
NON_OBJECT_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})
#: Where ``registry`` serves the version's ``_definitions.json`` (``$ref`` target).
DEFS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


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

    walk_schema(out, relax)
    walk_schema(out, identify_list_elements)  # after relax, which would drop these `required`
    return out


@functools.cache
def _definitions(kubernetes_version: str, partial: bool) -> dict[str, Any]:
    defs = json.loads((_schema_dir(kubernetes_version) / "_definitions.json").read_text())
    return partial_schema(defs, defs["$defs"]) if partial else defs


@functools.cache
def registry(kubernetes_version: str, partial: bool) -> Registry:
    """The version's ``_definitions.json`` (partial: as ``partial_schema``) at ``DEFS_URI``."""
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
    return jsonschema.Draft202012Validator(schema, registry=registry(kubernetes_version, t.patch))


def identity_problems(obj: Mapping[str, Any], t: KubernetesType) -> list[str]:
    """``apiVersion`` and ``kind`` of ``obj`` against the type it is declared as."""
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
    problems = identity_problems(obj, t)
    if t.patch:
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            problems.append("`metadata.name`: a patch must name the existing object it patches")
    return problems + schema_errors(_object_validator(t, kubernetes_version), obj)
