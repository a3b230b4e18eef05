"""EbsCsiDriver: persistent volumes on EKS, as gp3 EBS volumes: the managed ``aws-ebs-csi-driver`` add-on
with its IRSA role, and a gp3 StorageClass.

EKS has no in-tree EBS provisioner any more: a PersistentVolumeClaim binds only through the EBS CSI
driver. The add-on's controller calls EC2 with the permissions of the AWS managed policy
``AmazonEBSCSIDriverPolicy``, through IRSA for ``kube-system:ebs-csi-controller-sa`` (AWS EKS user
guide, "Amazon EBS CSI driver"). The StorageClass binds a volume only once its pod is scheduled
(``WaitForFirstConsumer``), so the volume is created in that pod's availability zone; volumes are
encrypted. The add-on turns ACTIVE only once its pods run, so it waits for the nodes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from cilium_eks.monitoring import (
    EBS_CSI_ADDON,
    EBS_CSI_NAMESPACE,
    EBS_CSI_POLICY_ARN,
    EBS_CSI_PROVISIONER,
    EBS_CSI_SERVICE_ACCOUNT,
    STORAGE_CLASS,
)
from cilium_eks.operator_iam import irsa_trust_policy

TYPE_TOKEN = "cilium-eks:components:EbsCsiDriver"


@dataclass(frozen=True)
class EbsCsiDriverArgs:
    """Inputs of :class:`EbsCsiDriver`. ``nodes`` are what the add-on waits for (its pods need them);
    ``kubernetes_version`` picks the add-on version (EKS's default for it). ``tags`` defaults to none."""

    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    k8s_provider: k8s.Provider
    nodes: Sequence[pulumi.Resource]
    tags: Mapping[str, str] = field(default_factory=dict)


class EbsCsiDriver(pulumi.ComponentResource):
    addon: aws.eks.Addon
    role_arn: pulumi.Output[str]
    storage_class_name: pulumi.Output[str]

    def __init__(self, name: str, args: EbsCsiDriverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not args.nodes:
            raise ValueError("the EBS CSI add-on needs the node groups to wait for; got none")
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda a: json.dumps(irsa_trust_policy(a[0], a[1], EBS_CSI_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT)))
        role = aws.iam.Role(
            f"{name}-role",
            description="EBS CSI driver controller (IRSA): creates and attaches the cluster's EBS volumes",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(f"{name}-policy", role=role.name, policy_arn=EBS_CSI_POLICY_ARN,
                                                  opts=child)
        version = aws.eks.get_addon_version_output(
            addon_name=EBS_CSI_ADDON, kubernetes_version=args.kubernetes_version, most_recent=False,
            opts=pulumi.InvokeOutputOptions(parent=self)).version
        self.addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=EBS_CSI_ADDON,
            addon_version=version,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Turns ACTIVE only once its pods run on nodes; and its controller needs the policy to work.
                # Neither is linked to it by data.
                depends_on=[*args.nodes, attachment],
            ),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": STORAGE_CLASS, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            provisioner=EBS_CSI_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider,
                # A claim of this class binds only once the driver runs: nothing in the data says so.
                depends_on=[self.addon]),
        )
        self.role_arn = role.arn
        self.storage_class_name = storage_class.metadata.apply(lambda m: m.name or STORAGE_CLASS)
        self.register_outputs({"role_arn": self.role_arn, "addon_version": version,
                               "storage_class_name": self.storage_class_name})
