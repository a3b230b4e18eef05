"""Cilium: the CNI in AWS ENI IPAM mode, its operator's IRSA role, and Hubble, in one release."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from cilium_eks.cilium_values import (
    CILIUM_CHART,
    CILIUM_NAMESPACE,
    CILIUM_RELEASE_NAME,
    CILIUM_REPO,
    OPERATOR_SERVICE_ACCOUNT,
    cilium_values,
    irsa_trust_policy,
    operator_iam_actions,
    operator_policy_document,
)
from cilium_eks.config import StackConfig

TYPE_TOKEN = "cilium-eks:components:Cilium"


@dataclass(frozen=True)
class CiliumArgs:
    """Inputs of :class:`Cilium`.

    ``config`` supplies the chart version, ENI options, extra values and names.
    ``cni_removed`` are the resources that take aws-node out of the way; the release waits
    for them (no data links the two, so it is an explicit dependency). ``api_server_host``
    is only used with kube-proxy replacement. ``tags`` defaults to none.
    """

    config: StackConfig
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    api_server_host: pulumi.Input[str]
    cni_removed: Sequence[pulumi.Resource]
    tags: Mapping[str, str] = field(default_factory=dict)


class Cilium(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    operator_role_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, args: CiliumArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        cfg = args.config
        tags = dict(args.tags)

        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda a: json.dumps(irsa_trust_policy(a[0], a[1], CILIUM_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)))
        role = aws.iam.Role(
            f"{name}-operator",
            description=f"cilium-operator of {cfg.cluster_name}: manages pod ENIs (IRSA)",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The action list follows the chart options actually used (GC tags, release of
        # excess IPs, instance filters), computed from the values without the Outputs.
        actions = operator_iam_actions(cilium_values(cfg, operator_role_arn="", api_server_host=""))
        policy = aws.iam.Policy(
            f"{name}-operator-eni",
            description="EC2 ENI actions cilium-operator needs in ENI IPAM mode, nothing more",
            policy=json.dumps(operator_policy_document(actions)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(f"{name}-operator-eni-attach", role=role.name, policy_arn=policy.arn,
                                     opts=pulumi.ResourceOptions(parent=self))

        values: dict[str, Any] = cilium_values(
            cfg,
            operator_role_arn=role.arn,
            api_server_host=args.api_server_host if cfg.cilium.kube_proxy_replacement else None,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=CILIUM_RELEASE_NAME,
            chart=CILIUM_CHART,
            version=cfg.cilium.version,
            repository_opts={"repo": CILIUM_REPO},
            namespace=CILIUM_NAMESPACE,
            values=values,
            # No node exists yet, so no Cilium pod can be ready: waiting would deadlock
            # (the node groups wait for this release).
            skip_await=True,
            atomic=False,
            cleanup_on_fail=False,
            max_history=10,
            timeout=600,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.k8s_provider,
                # aws-node must be out of the way before the first Cilium agent starts; no
                # value links the two resources, so the order is stated here.
                depends_on=list(args.cni_removed),
            ),
        )
        self.operator_role_arn = role.arn
        self.version = pulumi.Output.from_input(cfg.cilium.version)
        self.register_outputs({
            "release_name": self.release.name,
            "version": self.version,
            "operator_role_arn": self.operator_role_arn,
            "operator_actions": actions,
        })
