"""Negative control of the type check (contract 4): pyright must reject a wrong key in a
nested dict passed to pulumi-aws, pulumi-eks and pulumi-kubernetes.

Checked by `make typecheck` with ./pyrightconfig.json, never imported or run. Each wrong
call carries `# pyright: ignore[reportArgumentType]` and the config turns
`reportUnnecessaryTypeIgnoreComment` into an error: pyright passes only if every one of
those lines really is rejected for its argument's type. Each wrong call has a twin with
the right key and no ignore, which must type-check: the key is the only difference, so it
is what pyright rejects.
"""

from pulumi_aws.ec2.route_table import RouteTable
from pulumi_eks.cluster import Cluster
from pulumi_kubernetes.apps.v1.DaemonSetPatch import DaemonSetPatch

# pulumi-aws: RouteTableRouteArgsDict
RouteTable("right-route", vpc_id="vpc-0123", routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": "igw-0123"}])
RouteTable(
    "wrong-route",
    vpc_id="vpc-0123",
    # EXPECTED ERROR: `cidr_blok` is not a key of RouteTableRouteArgsDict
    routes=[{"cidr_blok": "0.0.0.0/0", "gateway_id": "igw-0123"}],  # pyright: ignore[reportArgumentType]
)

# pulumi-eks: CoreDnsAddonOptionsArgsDict
Cluster("right-cluster", coredns_addon_options={"enabled": False})
# EXPECTED ERROR: `enable` is not a key of CoreDnsAddonOptionsArgsDict
Cluster("wrong-cluster", coredns_addon_options={"enable": False})  # pyright: ignore[reportArgumentType]

# pulumi-kubernetes: the SDK's TypedDicts use snake_case; the manifest's camelCase is wrong here
DaemonSetPatch("right-patch", metadata={"name": "aws-node"},
               spec={"template": {"spec": {"node_selector": {"io.cilium/aws-node-enabled": "true"}}}})
DaemonSetPatch(
    "wrong-patch",
    metadata={"name": "aws-node"},
    # EXPECTED ERROR: `nodeSelector` is not a key of PodSpecPatchArgsDict
    spec={"template": {"spec": {"nodeSelector": {"io.cilium/aws-node-enabled": "true"}}}},  # pyright: ignore[reportArgumentType]
)
