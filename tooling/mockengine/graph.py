"""The recorded graph: every resource the engine was asked to register, with its inputs,
parent, provider and dependencies, and the waits the engine would honour."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cilium_eks.ordering import DependencyGraph, Resource

from .wire import refs


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    remote: bool
    parent: str | None
    provider: str | None
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    outputs: dict[str, Any]
    id: str | None
    options: dict[str, Any] = field(default_factory=dict)
    #: registered by the mock on behalf of a remote component's provider, not by this program
    synthetic: bool = False
    #: what the component passed to register_outputs (components only)
    registered_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def explicit_dependencies(self) -> frozenset[str]:
        """Dependencies that no input carries: the `depends_on` of the program."""
        via_data = {u for urns in self.property_dependencies.values() for u in urns}
        return frozenset(set(self.dependencies) - via_data)


@dataclass
class Graph:
    project: str
    stack: str
    resources: dict[str, RecordedResource]
    outputs: dict[str, Any]
    stack_urn: str
    #: (severity, message) of every ``pulumi.log`` call the program made, as the engine would show them.
    logs: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources.values())

    def of_type(self, type_: str, *, synthetic: bool | None = None) -> list[RecordedResource]:
        return [r for r in self if r.type == type_ and (synthetic is None or r.synthetic == synthetic)]

    def one(self, type_: str) -> RecordedResource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}: {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name}, found {len(found)}")
        return found[0]

    def get(self, urn: str) -> RecordedResource:
        return self.resources[urn]

    def children(self, urn: str) -> list[RecordedResource]:
        return [r for r in self if r.parent == urn]

    def descendants(self, urn: str) -> list[RecordedResource]:
        out: list[RecordedResource] = []
        stack = [urn]
        while stack:
            kids = self.children(stack.pop())
            out += kids
            stack += [k.urn for k in kids]
        return out

    def ancestors(self, urn: str) -> list[RecordedResource]:
        out: list[RecordedResource] = []
        parent = self.resources[urn].parent
        while parent and parent in self.resources:
            out.append(self.resources[parent])
            parent = self.resources[parent].parent
        return out

    def direct_waits(self, urn: str) -> dict[str, set[str]]:
        """What the engine must finish before it creates `urn`, by dependency URN, with
        why: data (per property), `depends_on`, its provider, or a resource passed by
        reference to a remote component (`cluster=`, `node_role=`: the SDK leaves those
        out of the recorded dependencies, yet nothing can be created from them before
        they exist)."""
        r = self.resources[urn]
        out: dict[str, set[str]] = defaultdict(set)
        for prop, urns in r.property_dependencies.items():
            for u in urns:
                out[u].add(f"data: {prop}")
        for u in r.explicit_dependencies:
            out[u].add("depends_on")
        for u in r.dependencies:
            out.setdefault(u, set())
        if r.provider:
            provider_urn = r.provider.rsplit("::", 1)[0]
            if provider_urn in self.resources:
                out[provider_urn].add("provider")
        if not r.synthetic:
            for key, value in r.inputs.items():
                for u in refs(value):
                    out[u].add(f"reference: {key}")
        for kinds in out.values():
            if not kinds:
                kinds.add("data")
        return dict(out)

    def dependency_graph(self) -> DependencyGraph:
        """The graph the ordering rules and the one walker (``cilium_eks.ordering``) read: a
        snapshot of this recording (tests alter recordings, so it is never cached)."""
        return DependencyGraph(
            (Resource(urn=r.urn, type=r.type, name=r.name, props=r.inputs, parent=r.parent) for r in self),
            {r.urn: self.direct_waits(r.urn).keys() for r in self})

    def waits_for(self, urn: str, other: str) -> bool:
        """True when `urn` cannot be created before `other` (transitively)."""
        return self.dependency_graph().waits_for(urn, other)

