"""Contract 3: custom resources vs their CRD.

A Cilium custom resource is checked (``custom_resource_problems``) against
``spec.versions[].schema.openAPIV3Schema`` of its CRD, with the API server's
structural-schema semantics translated to JSON Schema (``crd_schema_to_jsonschema``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .common import YAML_LOADER, ContractError, non_json_leaves, schema_errors, walk_schema
from .karpenter_cel import KARPENTER_CEL_RULES
from .kubernetes import DEFS_URI, OBJECT_META, registry

#: CEL rules (``x-kubernetes-validations``) of the CRDs, translated to JSON Schema. A CRD
#: with a rule not listed here cannot be loaded: a new rule must be translated, not skipped.
CEL_RULE_TRANSLATIONS: Mapping[str, Mapping[str, Any]] = {
    "has(self.spec) || has(self.specs)": {"anyOf": [{"required": ["spec"]}, {"required": ["specs"]}]},
    **KARPENTER_CEL_RULES,  # NodePool and EC2NodeClass (karpenter_cel.py)
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

    walk_schema(out, convert)
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
        for doc in yaml.load_all(f.read_text(), Loader=YAML_LOADER):
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
        schema.setdefault("properties", {})["metadata"] = {"$ref": f"{DEFS_URI}#/$defs/{OBJECT_META}"}
        return jsonschema.Draft202012Validator(schema, registry=registry(kubernetes_version, False))
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
    problems = schema_errors(_custom_resource_validator(crd, kubernetes_version), obj)
    if not crd.namespaced and (obj.get("metadata") or {}).get("namespace"):
        problems.append(f"`metadata.namespace`: {crd.kind} is cluster-scoped; remove the namespace")
    return problems
