"""Relationships between the resources of a stack policy, read with the core's one walker."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import PolicyResource

from .core.ordering import DependencyGraph, Resource, check_ordering
from .core.ordering import OrderingFinding as OrderingFinding
from .core.ordering import node_groups as _node_groups
from .props import plain


class StackView:
    """The resources a stack policy receives, as a ``DependencyGraph``: a resource waits for
    its dependencies and property dependencies, and for what its ancestors wait for."""

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self.graph = DependencyGraph(
            (Resource(urn=r.urn, type=r.resource_type, name=r.name, props=plain(r.props),
                      parent=r.parent.urn if r.parent is not None else None) for r in self.resources),
            {r.urn: {d.urn for d in [*r.dependencies, *(x for ds in r.property_dependencies.values() for x in ds)]}
             for r in self.resources})

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    def descendants(self, r: PolicyResource) -> list[PolicyResource]:
        return [self.by_urn[d.urn] for d in self.graph.descendants(r.urn)]

    def waits_for(self, r: PolicyResource, other: PolicyResource) -> bool:
        return self.graph.waits_for(r.urn, other.urn)

    def node_groups(self) -> list[PolicyResource]:
        """The outermost node-group resources (``cilium_eks.ordering.node_groups``)."""
        return [self.by_urn[r.urn] for r in _node_groups(self.graph)]

    def ordering(self, rule: str) -> list[OrderingFinding]:
        """The findings of one core ordering rule over this stack."""
        from .core.ordering import RULES_BY_NAME

        return check_ordering(self.graph, [RULES_BY_NAME[rule]])
