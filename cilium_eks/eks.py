"""EKS: the control plane's settings and the managed node groups', as plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

#: EKS Kubernetes versions accepted (EKS standard + extended support at the time of writing).
SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
DEFAULT_KUBERNETES_VERSION = "1.34"

ControlPlaneLogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
CONTROL_PLANE_LOG_TYPES: tuple[str, ...] = get_args(ControlPlaneLogType)

CapacityType = Literal["ON_DEMAND", "SPOT"]
CAPACITY_TYPES: tuple[str, ...] = get_args(CapacityType)

#: The EKS-optimized AL2023 AMI release the node groups run, pinned: a new release rolls the nodes only
#: when this (config ``nodeAmiRelease``) changes. Releases: https://github.com/awslabs/amazon-eks-ami/releases
DEFAULT_AMI_RELEASE = "v20260724"


def ami_parameter(kubernetes_version: str, architecture: str, release: str) -> str:
    """The public SSM parameter holding the AMI id of one AL2023 release, for one Kubernetes minor
    and architecture (``x86_64`` or ``arm64``). The per-release parameter is the one Karpenter
    resolves pinned ``al2023@vYYYYMMDD`` aliases through (aws/karpenter-provider-aws
    ``pkg/providers/amifamily/al2023.go``); the AMI it names is
    ``amazon-eks-node-al2023-<arch>-standard-<k8s>-<release>``."""
    name = f"amazon-eks-node-al2023-{architecture}-standard-{kubernetes_version}-{release}"
    family = f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{architecture}/standard"
    return f"{family}/{name}/image_id"


def ami_architecture(architecture: str | None) -> str:
    """The AMI architecture name of a Kubernetes one (``amd64`` -> ``x86_64``)."""
    return "arm64" if architecture == "arm64" else "x86_64"


#: Grants cluster-admin through an EKS access entry.
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class ClusterSpec:
    """The control plane. ``public_access_cidrs`` only applies with
    ``endpoint_public_access``; ``admin_arns`` get cluster-admin access entries."""

    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    endpoint_private_access: bool = True
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    log_types: tuple[str, ...] = ("api", "audit", "authenticator")
    admin_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeGroupSpec:
    """One managed node group: ``min_size <= desired_size <= max_size``; ``name`` becomes
    part of AWS names; ``labels`` go on every node."""

    name: str
    instance_types: tuple[str, ...]
    capacity_type: CapacityType = "ON_DEMAND"
    min_size: int = 2
    desired_size: int = 2
    max_size: int = 4
    disk_size_gib: int = 50
    labels: Mapping[str, str] = field(default_factory=dict)
