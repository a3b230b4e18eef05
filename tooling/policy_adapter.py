"""Evaluate the policy pack offline, against a graph recorded by ``tooling.mockengine``.

The adapter plays the engine's part and nothing else. For every recorded resource it
builds the request the engine sends a policy pack (``sdk/go/common/resource/plugin/
analyzer_plugin.go``: ``KeepUnknowns``, ``KeepSecrets``, resource references downgraded to
their ID or URN, internal ``__`` keys skipped) and hands it to the policy SDK's own analyzer
service, the object ``PolicyPack`` serves over gRPC. The SDK then deserialises properties,
wraps them in its unknown-checking proxy, applies the pack config and enforcement levels
and builds ``ResourceValidationArgs``/``StackValidationArgs`` exactly as in a real run.

What the engine passes, and therefore what this adapter passes:

* ``Analyze`` (resource policies): a custom resource's inputs; for a component, the
  properties its registrant sent. This program's Python components send none. pulumi-eks
  components (``eks:index:*``, remote) are registered by pulumi-eks's Node.js provider, whose
  ``ComponentResource`` sends none either, so they arrive empty: the inputs the Python program
  gave them went to the provider's ``Construct``, not to the analyzer. The synthetic children
  the mock registers for them are analysed with their inputs, as the real children are.
  ``remote_component_inputs=True`` passes the recorded inputs instead (what an engine that
  forwards component inputs, pulumi/pulumi#10533, would do).
* ``AnalyzeStack`` (stack policies): every resource's outputs (a component's registered
  outputs), parent, dependencies and property dependencies, plus the root stack resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.guardrails import PACK_NAME, build_policies
from policies.guardrails.context import StackContext
from policies.guardrails.props import urn_name

from .mockengine import UNKNOWN, Graph, RecordedResource, ResourceRef, Secret
from .stackfiles import stack_config as stack_file_config

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_PROTO_LEVELS = {
    EnforcementLevel.ADVISORY: analyzer_pb2.ADVISORY,
    EnforcementLevel.MANDATORY: analyzer_pb2.MANDATORY,
    EnforcementLevel.REMEDIATE: analyzer_pb2.REMEDIATE,
    EnforcementLevel.DISABLED: analyzer_pb2.DISABLED,
}


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the pack: ``message`` is the validator's text (without the
    policy description the SDK prefixes); ``urn`` is empty for a stack-wide violation."""

    policy: str
    level: str
    urn: str
    message: str

    @property
    def resource(self) -> str:
        return urn_name(self.urn)

    @property
    def undecided(self) -> bool:
        """The SDK's note that a value was unknown (preview) and the policy could not decide."""
        return self.message.startswith("can't run policy")


@dataclass(frozen=True)
class Evaluation:
    violations: tuple[Violation, ...]
    not_applicable: tuple[tuple[str, str], ...]

    def fired(self, level: str | None = None) -> set[str]:
        """Names of the policies that reported at least one violation (at ``level``)."""
        return {v.policy for v in self.violations if level is None or v.level == level}

    def of(self, policy: str) -> list[Violation]:
        return [v for v in self.violations if v.policy == policy]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]


# --------------------------------------------------------------------------------------
# Engine-side marshalling
# --------------------------------------------------------------------------------------


def wire(value: Any) -> Any:
    """A recorded value as the engine marshals it for an analyzer."""
    if isinstance(value, Secret):
        return {_SIG_KEY: _SECRET_SIG, "value": wire(value.value)}
    if isinstance(value, ResourceRef):
        return value.id if value.id else value.urn
    if isinstance(value, type(UNKNOWN)):  # also a deep copy of the sentinel
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    return value


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(wire(value))
    return s


def analyzed_inputs(r: RecordedResource, remote_component_inputs: bool = False) -> Mapping[str, Any]:
    """What ``Analyze`` receives as the resource's properties (see the module docstring)."""
    if not r.custom and (r.remote or r.synthetic) and not remote_component_inputs:
        return {}
    return r.inputs


def stack_outputs(r: RecordedResource) -> Mapping[str, Any]:
    """What ``AnalyzeStack`` receives as the resource's properties: its outputs."""
    return r.outputs if (r.custom or r.remote or r.synthetic) else r.registered_outputs


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _options(r: RecordedResource) -> Any:
    o = r.options
    timeouts = o.get("custom_timeouts") or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(o.get("protect", False)),
        ignoreChanges=list(o.get("ignore_changes", ())),
        deleteBeforeReplace=bool(o.get("delete_before_replace", False)),
        deleteBeforeReplaceDefined="delete_before_replace" in o,
        additionalSecretOutputs=list(o.get("additional_secret_outputs", ())),
        aliases=[],
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create")), update=_seconds(timeouts.get("update")),
            delete=_seconds(timeouts.get("delete"))),
        parent=r.parent or "",
    )


def _provider(graph: Graph, r: RecordedResource) -> Any:
    if not r.provider:
        return None
    urn = r.provider.rsplit("::", 1)[0]
    prov = graph.resources.get(urn)
    if prov is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(type=prov.type, properties=_struct(prov.inputs), urn=prov.urn,
                                                 name=prov.name)


def analyze_request(graph: Graph, r: RecordedResource, remote_component_inputs: bool = False) -> Any:
    return analyzer_pb2.AnalyzeRequest(
        type=r.type, properties=_struct(analyzed_inputs(r, remote_component_inputs)), urn=r.urn, name=r.name,
        options=_options(r), provider=_provider(graph, r))


def analyze_stack_request(graph: Graph) -> Any:
    stack = analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack", urn=graph.stack_urn, name=urn_name(graph.stack_urn),
        properties=_struct(graph.outputs), options=analyzer_pb2.AnalyzerResourceOptions())
    resources = [stack]
    for r in graph:
        resources.append(analyzer_pb2.AnalyzerResource(
            type=r.type, properties=_struct(stack_outputs(r)), urn=r.urn, name=r.name, options=_options(r),
            provider=_provider(graph, r), parent=r.parent or "", dependencies=list(r.dependencies),
            propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                                  for k, v in r.property_dependencies.items() if v}))
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)


def configure_request(pack_config: Mapping[str, Any], policies: Sequence[Policy]) -> Any:
    """A ``--policy-pack-config`` document (``{"all": level, "<policy>": level or {...}}``)
    resolved per policy, as the engine sends it."""
    def level_of(entry: Any) -> str | None:
        return entry if isinstance(entry, str) else entry.get("enforcementLevel") if isinstance(entry, Mapping) \
            else None

    configs: dict[str, Any] = {}
    for policy in policies:
        level = policy.enforcement_level or EnforcementLevel.ADVISORY
        properties: dict[str, Any] = {}
        for entry in (pack_config.get("all"), pack_config.get(policy.name)):
            if level_of(entry) is not None:
                level = EnforcementLevel(level_of(entry))
        entry = pack_config.get(policy.name)
        if isinstance(entry, Mapping):
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        configs[policy.name] = analyzer_pb2.PolicyConfig(enforcementLevel=_PROTO_LEVELS[level],
                                                         properties=_struct(properties))
    return analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=configs)


# --------------------------------------------------------------------------------------
# Running the pack
# --------------------------------------------------------------------------------------


def analyzer(policies: Sequence[Policy], pack_config: Mapping[str, Any] | None = None) -> Any:
    """The SDK's analyzer service for ``policies``, configured like the engine would."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", list(policies), EnforcementLevel.ADVISORY, None)
    if pack_config:
        servicer.Configure(configure_request(pack_config, policies), None)
    return servicer


def _violations(response: Any, policies: Iterable[Policy], resource_urn: str | None = None) -> list[Violation]:
    """``resource_urn``: for a resource policy the engine attributes every diagnostic to the
    analysed resource, whatever URN the policy gave (step_generator.go)."""
    descriptions = {p.name: p.description for p in policies}
    out: list[Violation] = []
    for d in response.diagnostics:
        message = str(d.message)
        prefix = descriptions.get(d.policyName, "") + "\n"
        out.append(Violation(policy=d.policyName, level=_LEVELS[d.enforcementLevel], urn=resource_urn or d.urn,
                             message=message.removeprefix(prefix)))
    return out


def context_for(graph: Graph, stack_config: Mapping[str, Any] | None = None) -> StackContext:
    """The context the engine would give the pack for this graph's stack (its config)."""
    config = stack_file_config(graph.stack) if stack_config is None else stack_config
    return StackContext.from_config(graph.project, graph.stack, config)


def evaluate(graph: Graph, *, stack_config: Mapping[str, Any] | None = None,
             pack_config: Mapping[str, Any] | None = None, policies: Sequence[Policy] | None = None,
             remote_component_inputs: bool = False) -> Evaluation:
    """Run every policy of the pack over ``graph`` as ``pulumi preview --policy-pack`` would.

    ``stack_config`` is the stack's config as the engine passes it to the pack (default:
    the committed stack file); ``pack_config`` is a ``--policy-pack-config`` document.
    """
    policies = list(build_policies(context_for(graph, stack_config)) if policies is None else policies)
    servicer = analyzer(policies, pack_config)
    violations: list[Violation] = []
    not_applicable: list[tuple[str, str]] = []
    for r in graph:
        response = servicer.Analyze(analyze_request(graph, r, remote_component_inputs), None)
        violations += _violations(response, policies, r.urn)
        not_applicable += [(n.policy_name, n.reason) for n in response.not_applicable]
    response = servicer.AnalyzeStack(analyze_stack_request(graph), None)
    violations += _violations(response, policies)
    not_applicable += [(n.policy_name, n.reason) for n in response.not_applicable]
    return Evaluation(tuple(violations), tuple(not_applicable))
