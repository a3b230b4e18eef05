"""eks-secrets-encrypted: Kubernetes Secrets are envelope-encrypted with a KMS key."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    UNKNOWN,
    as_list,
    elements,
    explain,
    get,
    path,
    undecidable,
)
from ..resources import (
    EKS_CLUSTER,
)


def validate_eks_secrets_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    configs = get(args.props, "encryptionConfig")
    if configs is UNKNOWN:
        undecidable("encryptionConfig")
    configs = [configs] if isinstance(configs, Mapping) else elements(configs)
    encrypted = any("secrets" in as_list(get(c, "resources")) and get(path(c, "provider"), "keyArn")
                    for c in configs)
    if not encrypted:
        report_violation(explain(
            f"EKS cluster {args.name} does not envelope-encrypt Kubernetes Secrets with a KMS key.",
            "Secrets (Hubble's TLS keys, the Cilium CA, workload credentials) then sit in etcd protected "
            "only by AWS's default disk encryption, with no key policy or audit trail of their own",
            "pass encryption_config_key_arn (a rotated KMS key) to eks.Cluster, as components/cluster.py "
            "does"), None)
