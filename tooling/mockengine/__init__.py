"""One mock engine for the unit tests, the policy tests, the component tests and the offline plan.

It runs a Pulumi program (the project's real ``__main__.py``, or one component alone) under
``pulumi.runtime.set_mocks`` and records what a real engine would receive: each resource's
type, inputs, parent, provider, dependencies (explicit and per property) and options, plus the
stack outputs with their secretness.

It behaves like the real engine where this program depends on it:

* pulumi-eks components are *remote*: their outputs come back as resource references
  (``eksCluster``, ``core.provider``, ...) that the SDK rehydrates into real resource
  objects through ``pulumi:pulumi:getResource``. The children a real eks provider would
  register (the aws.eks.Cluster, the OIDC provider, add-ons it manages) are recorded as
  "synthetic" children, so the graph shows what pulumi-eks would really create.
* inputs are decoded from the wire format without rehydrating resource references
  (``wire``); a resource passed to a remote component stays a ``ResourceRef(urn)``.
* unexpected invokes fail loudly instead of returning empty data.

Modules: ``wire`` (codec), ``graph`` (the recorded graph), ``providers`` (fake provider
outputs), ``monitor`` (the recording monitor), ``runner`` (running a program).
"""

from .graph import Graph, RecordedResource
from .providers import ACCOUNT_ID, EngineMocks
from .runner import namespaced, run, run_program
from .wire import UNKNOWN, ResourceRef, Secret, decode_struct, encode_struct, unwrap

__all__ = [
    "ACCOUNT_ID",
    "UNKNOWN",
    "EngineMocks",
    "Graph",
    "RecordedResource",
    "ResourceRef",
    "Secret",
    "decode_struct",
    "encode_struct",
    "namespaced",
    "run",
    "run_program",
    "unwrap",
]
