"""The recording monitor: the SDK's MockMonitor, recording the whole graph and speaking
resource references (pulumi-eks components are remote: their outputs are references that the
SDK rehydrates through ``pulumi:pulumi:getResource``)."""

from __future__ import annotations

from typing import Any

from .graph import RecordedResource
from .providers import EngineMocks, hex_id
from .wire import ResourceRef, Secret, decode_struct, encode_struct


def _monitor_base() -> type:
    from pulumi.runtime.mocks import MockMonitor

    return MockMonitor


class RecordingMonitor(_monitor_base()):  # base class resolved at import
    """A MockMonitor that records the whole graph and speaks resource references."""

    def __init__(self, mocks: EngineMocks) -> None:
        super().__init__(mocks)
        self.engine_mocks = mocks
        mocks.monitor = self
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_urn = ""
        self.stack_outputs: dict[str, Any] = {}

    # Resources --------------------------------------------------------------------------

    def register_synthetic(self, parent_urn: str, typ: str, name: str, state: dict[str, Any],
                           rid: str | None) -> ResourceRef:
        from pulumi.runtime.mocks import MockMonitor

        urn = self.make_urn(parent_urn, typ, name)
        rid = rid or f"{name}-{hex_id(urn, 7)}"
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, rid, state)
        self.recorded[urn] = RecordedResource(
            urn=urn, type=typ, name=name, custom=not typ.startswith("eks:"), remote=False, parent=parent_urn,
            provider=None, inputs=state, dependencies=(), property_dependencies={}, outputs=state, id=rid,
            synthetic=True)
        return ResourceRef(urn, rid)

    def RegisterResource(self, request: Any) -> Any:
        from pulumi.runtime.mocks import MockMonitor
        from pulumi.runtime.proto import resource_pb2

        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)

        inputs = decode_struct(request.object)
        id_, state = self.engine_mocks.new_resource(request.type, request.name, inputs, urn, request.custom)
        if request.custom and id_ is None:
            id_ = f"{request.name}-{hex_id(urn, 7)}"
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", state)
        self.recorded[urn] = RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            remote=request.remote,
            parent=request.parent or None,
            provider=request.provider or None,
            inputs=inputs,
            dependencies=tuple(request.dependencies),
            property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
            outputs=state,
            id=id_,
            options={
                "protect": request.protect,
                "retain_on_delete": request.retainOnDelete,
                "delete_before_replace": request.deleteBeforeReplace,
                "ignore_changes": tuple(request.ignoreChanges),
                "replace_on_changes": tuple(request.replaceOnChanges),
                "additional_secret_outputs": tuple(request.additionalSecretOutputs),
                "providers": dict(request.providers),
                "custom_timeouts": {"create": request.customTimeouts.create,
                                    "update": request.customTimeouts.update,
                                    "delete": request.customTimeouts.delete},
            },
        )
        # What the program gets back is secret where its input was (and where it asked for it), as the
        # engine makes it: pulumi `sdk/go/common/resource/plugin/provider_plugin.go` `annotateSecrets`
        # marks each output whose input of the same name was secret, recursing into objects. The
        # recorded outputs stay plain, for assertions on values.
        returned = _annotate_secrets(state, decode_struct(request.object, keep_secrets=True))
        returned = {k: Secret(v) if k in request.additionalSecretOutputs and not isinstance(v, Secret) else v
                    for k, v in returned.items()}
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=encode_struct(returned))

    def RegisterResourceOutputs(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        outputs = decode_struct(request.outputs, keep_secrets=True)
        if request.urn == self.stack_urn or request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            self.stack_outputs.update(outputs)
        elif request.urn in self.recorded:
            self.recorded[request.urn].registered_outputs = outputs
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> Any:
        from pulumi.runtime.proto import resource_pb2

        args = decode_struct(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            reg = self.resources.get(args["urn"])
            if reg is None:
                raise Exception(f"unknown resource {args['urn']}")
            ret = {"urn": reg.urn, "id": reg.id, "state": reg.state}
        else:
            ret = self.engine_mocks.call(request.tok, args)
        return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": encode_struct(ret)})



def _annotate_secrets(outs: dict[str, Any], ins: dict[str, Any]) -> dict[str, Any]:
    out = dict(outs)
    for key, value in ins.items():
        if key not in out or isinstance(out[key], Secret):
            continue
        if isinstance(value, Secret):
            out[key] = Secret(out[key])
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _annotate_secrets(out[key], value)
    return out
