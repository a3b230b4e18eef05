"""Contracts with the real upstream artifacts, as pure checks.

No AWS account or API server is needed to know that a real ``pulumi up`` would be
refused: the chart, the Kubernetes API and the Cilium CRDs publish the schemas they
enforce. Each check takes plain data (what the engine receives: camelCase inputs) and an
upstream artifact, and returns *every* problem found as a readable string; an empty list
means the contract holds. The tests, the offline plan and the policy pack share them.

Modules: ``common`` (the error, paths, the schema walk), ``helm`` (Helm values vs the
pinned chart's ``values.schema.json`` and ``values.yaml`` keys), ``kubernetes`` (built-in
objects vs the strict OpenAPI schema of the cluster's version, patches vs their partial
schema), ``crds`` (CRD schema to JSON Schema, custom resources vs their CRD) and
``declared`` (the one entry point per declared resource).
"""

from .common import ContractError, non_json_leaves
from .crds import (
    CEL_RULE_TRANSLATIONS,
    CustomResourceDefinition,
    crd_schema_to_jsonschema,
    custom_resource_problems,
    load_crds,
)
from .declared import declared_kubernetes_object_problems
from .helm import (
    COMMENTED_VALUE_PATHS,
    PASS_THROUGH_VALUE_KEYS,
    ChartReference,
    commented_value_paths,
    helm_values_problems,
    load_chart_reference,
    undefined_value_paths,
    values_schema_problems,
)
from .kubernetes import (
    NON_OBJECT_GROUPS,
    KubernetesType,
    is_builtin_kind,
    kubernetes_object_problems,
    kubernetes_type,
    partial_schema,
    supported_kubernetes_versions,
)

__all__ = [
    "CEL_RULE_TRANSLATIONS",
    "COMMENTED_VALUE_PATHS",
    "NON_OBJECT_GROUPS",
    "PASS_THROUGH_VALUE_KEYS",
    "ChartReference",
    "ContractError",
    "CustomResourceDefinition",
    "KubernetesType",
    "commented_value_paths",
    "crd_schema_to_jsonschema",
    "custom_resource_problems",
    "declared_kubernetes_object_problems",
    "helm_values_problems",
    "is_builtin_kind",
    "kubernetes_object_problems",
    "kubernetes_type",
    "load_chart_reference",
    "load_crds",
    "non_json_leaves",
    "partial_schema",
    "supported_kubernetes_versions",
    "undefined_value_paths",
    "values_schema_problems",
]
