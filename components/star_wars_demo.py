"""StarWarsDemo: the Cilium docs' star-wars demo and its network policy, as the recipe ran it.

deathstar (a Deployment of 2 and a Service on port 80), tiefighter (``org=empire``) and
xwing (``org=alliance``) in a namespace of their own, plus the CiliumNetworkPolicy of the
configured stage.
The objects themselves are pure data in ``cilium_eks.demo``; ``python -m tooling.verify``
proves the policy is enforced. The pods run the upstream images as upstream starts them, with
requests, limits, TCP probes and a non-root, read-only, capability-free security context, so the
namespace enforces the `restricted` Pod Security Standard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from cilium_eks.demo import (
    DEATHSTAR,
    DEATHSTAR_LABELS,
    POLICY_NAME,
    POLICY_STAGES,
    SPACESHIPS,
    DemoPolicy,
    deathstar_deployment_spec,
    deathstar_service_spec,
    demo_namespace,
    namespace_labels,
    policy_spec,
    spaceship_pod_spec,
)

TYPE_TOKEN = "cilium-eks:components:StarWarsDemo"


@dataclass(frozen=True)
class StarWarsDemoArgs:
    """Inputs of :class:`StarWarsDemo`.

    ``name_prefix`` names the namespace (``<prefix>-demo``). ``policy`` is ``none``,
    ``l3l4`` or ``l7`` (config ``demoPolicy``, default ``l7``). ``cilium_release`` and
    ``nodes`` are what every demo object waits for: the pods need nodes networked by
    Cilium, the policy needs the CRD that Cilium registers when it starts.
    """

    name_prefix: str
    policy: DemoPolicy
    k8s_provider: k8s.Provider
    cilium_release: pulumi.Resource
    nodes: Sequence[pulumi.Resource]


class StarWarsDemo(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    policy: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: StarWarsDemoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if args.policy not in POLICY_STAGES:
            raise ValueError(f"policy must be one of {POLICY_STAGES}, not {args.policy!r}")
        if not args.nodes:
            raise ValueError("the demo needs the node groups to wait for; got none")

        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": demo_namespace(args.name_prefix), "labels": namespace_labels()},
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )
        namespace = ns.metadata.apply(lambda m: m.name or "")

        # Nothing in the data links the demo to the nodes or to the Cilium release, yet
        # Pulumi awaits every pod, the Deployment and the Service (it waits for endpoints),
        # and those need nodes whose pods Cilium networks; the policy needs the
        # CiliumNetworkPolicy CRD, which cilium-operator registers once it runs on a node.
        waits_for = [args.cilium_release, *args.nodes]

        def workload_opts() -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=waits_for)

        deathstar_metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": DEATHSTAR, "namespace": namespace,
            "labels": {"app.kubernetes.io/name": DEATHSTAR_LABELS["app.kubernetes.io/name"]}}
        k8s.apps.v1.Deployment(f"{name}-{DEATHSTAR}", metadata=deathstar_metadata, spec=deathstar_deployment_spec(),
                               opts=workload_opts())
        k8s.core.v1.Service(f"{name}-{DEATHSTAR}", metadata=deathstar_metadata, spec=deathstar_service_spec(),
                            opts=workload_opts())
        for ship in SPACESHIPS:
            k8s.core.v1.Pod(
                f"{name}-{ship.name}",
                metadata={"name": ship.name, "namespace": namespace, "labels": ship.labels},
                spec=spaceship_pod_spec(),
                opts=workload_opts(),
            )

        spec = policy_spec(args.policy)
        self.policy = None
        if spec is not None:
            self.policy = k8s.apiextensions.CustomResource(
                f"{name}-policy",
                api_version="cilium.io/v2",
                kind="CiliumNetworkPolicy",
                metadata={
                    "name": POLICY_NAME,
                    "namespace": namespace,
                    # A CNP has no readiness the provider could judge (no Ready condition),
                    # so awaiting it, even under PULUMI_K8S_AWAIT_ALL, proves nothing;
                    # `verify` checks enforcement instead. This does not disable the
                    # provider's create retry while the CRD is not served yet.
                    "annotations": {"pulumi.com/skipAwait": "true"},
                },
                spec=spec,
                opts=workload_opts(),
            )
        self.namespace = namespace
        self.register_outputs({"namespace": self.namespace, "policy_stage": args.policy})
