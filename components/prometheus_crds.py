"""PrometheusCrds: the Prometheus Operator's CRDs (``monitoring.coreos.com``), in place before the Cilium
release whose ServiceMonitors are objects of them.

They come from the ``prometheus-operator-crds`` chart (pinned, the operator version the metrics stack
runs) rather than from kube-prometheus-stack's ``crds/``: Helm installs a chart's ``crds/`` once and never
upgrades them, while this chart ships them as templates that ``helm upgrade`` updates. The CRDs create
no pod, so the release does not need nodes and can go in right after the control plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from cilium_eks.monitoring import CRDS_CHART, CRDS_RELEASE_NAME, CRDS_RELEASE_NAMESPACE, CRDS_VERSION, REPO

TYPE_TOKEN = "cilium-eks:components:PrometheusCrds"


@dataclass(frozen=True)
class PrometheusCrdsArgs:
    """Inputs of :class:`PrometheusCrds`. ``version`` is the exact ``prometheus-operator-crds`` chart
    version (default: the one matching the pinned kube-prometheus-stack)."""

    k8s_provider: k8s.Provider
    version: str = CRDS_VERSION


class PrometheusCrds(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: PrometheusCrdsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=CRDS_RELEASE_NAME,
            chart=CRDS_CHART,
            version=args.version,
            repository_opts={"repo": REPO},
            # The CRDs are cluster-scoped: the namespace only holds Helm's record of the release.
            namespace=CRDS_RELEASE_NAMESPACE,
            max_history=10,
            timeout=300,
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )
        self.register_outputs({"release_name": self.release.name, "version": args.version})
