"""The AWS VPC CNI (the ``aws-node`` DaemonSet) and how it is taken out of Cilium's way."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

#: ``patch``: the DaemonSet stays, scheduled on no node (Cilium's documented way).
#: ``delete``: the DaemonSet is deleted once, as the original recipe did.
AwsNodeMode = Literal["patch", "delete"]
AWS_NODE_MODES: tuple[str, ...] = get_args(AwsNodeMode)

AWS_NODE = "aws-node"
KUBE_PROXY = "kube-proxy"
NAMESPACE = "kube-system"

#: The nodeSelector that keeps aws-node off every node (Cilium's documented patch): no node
#: carries this label.
DISABLE_SELECTOR: Mapping[str, str] = MappingProxyType({"io.cilium/aws-node-enabled": "true"})
