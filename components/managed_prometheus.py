"""ManagedPrometheus: an Amazon Managed Service for Prometheus workspace the in-cluster Prometheus
remote-writes to, and the IAM role its service account assumes (IRSA), allowed ``aps:RemoteWrite`` on
that workspace only.

The remote-write URL is ``https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write``
and requests are signed with SigV4 from the pod's web identity (AWS, "Set up ingestion from an existing
Prometheus server in Kubernetes on EC2": IRSA for the Prometheus server's service account).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from cilium_eks.monitoring import (
    NAMESPACE,
    PROMETHEUS_SERVICE_ACCOUNT,
    RemoteWrite,
    amp_remote_write_policy,
    amp_remote_write_url,
)
from cilium_eks.operator_iam import irsa_trust_policy

TYPE_TOKEN = "cilium-eks:components:ManagedPrometheus"


@dataclass(frozen=True)
class ManagedPrometheusArgs:
    """Inputs of :class:`ManagedPrometheus`. ``namespace`` and ``service_account`` name the Prometheus
    that writes (default: the metrics stack's); only it may assume the role. ``tags`` defaults to none."""

    name_prefix: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    namespace: str = NAMESPACE
    service_account: str = PROMETHEUS_SERVICE_ACCOUNT
    tags: Mapping[str, str] = field(default_factory=dict)


class ManagedPrometheus(pulumi.ComponentResource):
    workspace_id: pulumi.Output[str]
    workspace_arn: pulumi.Output[str]
    remote_write_url: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    remote_write: RemoteWrite

    def __init__(self, name: str, args: ManagedPrometheusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        workspace = aws.amp.Workspace(f"{name}-workspace", alias=args.name_prefix, tags=tags, opts=child)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda a: json.dumps(irsa_trust_policy(a[0], a[1], args.namespace, args.service_account)))
        role = aws.iam.Role(
            f"{name}-writer",
            description=f"Prometheus of {args.name_prefix}: remote write to its Amazon Managed Prometheus workspace",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-remote-write",
            role=role.id,
            policy=workspace.arn.apply(lambda arn: json.dumps(amp_remote_write_policy(arn))),
            opts=child,
        )
        self.workspace_id = workspace.id
        self.workspace_arn = workspace.arn
        self.remote_write_url = workspace.id.apply(lambda i: amp_remote_write_url(args.region, i))
        # Handed over only once the role may write, so Prometheus never starts with a role that cannot.
        self.role_arn = pulumi.Output.all(role.arn, policy.id).apply(lambda a: a[0])
        self.remote_write = RemoteWrite(url=self.remote_write_url, region=args.region, role_arn=self.role_arn)
        self.register_outputs({"workspace_id": self.workspace_id, "workspace_arn": self.workspace_arn,
                               "remote_write_url": self.remote_write_url, "role_arn": self.role_arn})
