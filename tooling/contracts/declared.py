"""One entry point per declared resource (for the plan and the policy pack): contract 2 or 3,
chosen by the resource's type token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .crds import CustomResourceDefinition, custom_resource_problems
from .kubernetes import identity_problems, is_builtin_kind, kubernetes_object_problems, kubernetes_type


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
        return identity_problems(inputs, t) + custom_resource_problems(inputs, crds, kubernetes_version)
    return [f"no schema for {t.api_version} {t.kind}{' (patch)' if t.patch else ''}: neither built into "
            f"Kubernetes {kubernetes_version} nor a known CRD"]
