"""Resource types the rules look at, and recognisers shared by several rules."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Mapping
from typing import Any

from .core.cilium import CHART as CILIUM_CHART
from .core.cilium import chart_name
from .core.hubble import UI_SELECTOR
from .core.ordering import (
    AUTOSCALING_GROUP,
    COMMANDS,
    DAEMONSET_PATCH,
    EKS_CLUSTER,
    EKS_CLUSTER_COMPONENT,
    HELM_RELEASE,
    NODE_GROUP_TYPES,
)
from .props import UNKNOWN, elements, get, keys, path

__all__ = [
    "AUTOSCALING_GROUP",
    "COMMANDS",
    "DAEMONSET_PATCH",
    "EKS_CLUSTER",
    "EKS_CLUSTER_COMPONENT",
    "HELM_RELEASE",
    "NODE_GROUP_TYPES",
]

EKS_ADDON = "aws:eks/addon:Addon"
EKS_VPC_CNI_ADDON = "eks:index:VpcCniAddon"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
#: What a hubble-ui Service selects (the chart's hubble-ui Deployment pod label).
HUBBLE_UI_SELECTOR = next(iter(UI_SELECTOR.items()))


def is_cilium_release(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Helm release of the Cilium chart, recognised by its chart, never by its name."""
    return resource_type == HELM_RELEASE and chart_name(get(props, "chart")) == CILIUM_CHART


def release_label(name: str, props: Mapping[str, Any]) -> str:
    release = get(props, "name")
    return f"Cilium release `{release if isinstance(release, str) else name}` ({name})"


def effect_is_no_execute(effect: Any) -> bool:
    return isinstance(effect, str) and effect.replace("_", "").lower() == "noexecute"


def taints_in_text(text: str) -> list[tuple[str, str]]:
    """(key, effect) pairs from ``--register-with-taints=k=v:Effect,...`` in a kubelet
    command line or user data."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"--register-with-taints[= ]['\"]?([^\s'\"]+)", text):
        for spec in m[1].split(","):
            key_value, _, effect = spec.partition(":")
            out.append((key_value.split("=", 1)[0], effect))
    return out


def declared_taints(props: Mapping[str, Any]) -> list[tuple[str, str]] | Any:
    """Taints a node-group-like resource declares: a list of {key, value, effect} (EKS and
    pulumi-eks managed node groups), a map key -> {value, effect} (pulumi-eks self-managed
    node groups), kubelet arguments, or launch-template user data. ``UNKNOWN`` if unknown."""
    out: list[tuple[str, str]] = []
    taints = get(props, "taints")
    if taints is UNKNOWN:
        return UNKNOWN
    if isinstance(taints, Mapping):
        for k in keys(taints):
            out.append((k, str(get(get(taints, k), "effect", ""))))
    for t in elements(taints):
        out.append((str(get(t, "key", "")), str(get(t, "effect", ""))))
    for text_key in ("kubeletExtraArgs", "bootstrapExtraArgs", "userData"):
        text = get(props, text_key)
        if not isinstance(text, str):
            continue
        if text_key == "userData":
            with contextlib.suppress(binascii.Error, ValueError):  # plain-text user data
                text = base64.b64decode(text, validate=True).decode("utf-8", "replace")
        out += taints_in_text(text)
    return out


def hubble_ui_exposure(annotations: Any) -> str | None:
    """``None`` when a Service's load balancer is internal, else why it is internet-facing.
    The AWS Load Balancer Controller reads ``aws-load-balancer-scheme``; the in-tree cloud
    provider reads ``aws-load-balancer-internal`` and defaults to internet-facing."""
    scheme = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-scheme")
    if isinstance(scheme, str):
        return None if scheme == "internal" else f"aws-load-balancer-scheme is `{scheme}`"
    internal = get(annotations, "service.beta.kubernetes.io/aws-load-balancer-internal")
    if isinstance(internal, str) and internal.lower() in ("true", "0.0.0.0/0"):
        return None
    if internal is True:
        return None
    return "neither aws-load-balancer-scheme: internal nor aws-load-balancer-internal: \"true\" is set"


def is_hubble_ui_service(props: Mapping[str, Any]) -> bool:
    if get(path(props, "spec.selector"), HUBBLE_UI_SELECTOR[0]) == HUBBLE_UI_SELECTOR[1]:
        return True
    name = path(props, "metadata.name")
    if isinstance(name, str) and name.startswith("hubble-ui"):
        return True
    return get(path(props, "metadata.labels"), "app.kubernetes.io/name") == "hubble-ui"
