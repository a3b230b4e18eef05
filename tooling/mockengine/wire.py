"""The engine's wire format for resource inputs and outputs, decoded without an event loop.

Values arrive as protobuf Structs with signature keys (``pulumi/sdk/proto``: rpc.py). They are
decoded here into plain Python, resource references into :class:`ResourceRef` (never
rehydrated into resource objects: doing that on the monitor's thread is what hangs the SDK's
default mock monitor), secrets into :class:`Secret` where the caller keeps them, unknowns into
:data:`UNKNOWN`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Wire-format signatures (pulumi/sdk/proto: rpc.py).
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class ResourceRef:
    """A resource passed by reference (what the engine sees for `cluster=cluster`)."""

    urn: str
    id: str | None = None

    @property
    def type(self) -> str:
        return self.urn.split("::")[2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.split("::")[3]


@dataclass(frozen=True)
class Secret:
    """A value the engine would encrypt in state and mask in previews."""

    value: Any


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


def refs(value: Any) -> Iterator[str]:
    """URNs of the resources passed by reference anywhere in an input value."""
    if isinstance(value, ResourceRef):
        yield value.urn
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from refs(v)


# --------------------------------------------------------------------------------------
# Wire format <-> Python, without touching an event loop
# --------------------------------------------------------------------------------------


def _decode(value: Any, keep_secrets: bool) -> Any:
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            inner = _decode(value.get("value"), keep_secrets)
            return Secret(inner) if keep_secrets else inner
        if sig == _RESOURCE_SIG:
            rid = value.get("id")
            return ResourceRef(str(value["urn"]), None if rid in (None, "") else str(rid))
        if sig == _OUTPUT_SIG:
            if "value" not in value:
                return UNKNOWN
            inner = _decode(value["value"], keep_secrets)
            return Secret(inner) if keep_secrets and value.get("secret") else inner
        return {k: _decode(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, keep_secrets) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN:
        return UNKNOWN
    return value


def decode_struct(struct: Any, keep_secrets: bool = False) -> dict[str, Any]:
    from google.protobuf import json_format

    return _decode(json_format.MessageToDict(struct), keep_secrets)


def _encode(value: Any) -> Any:
    if isinstance(value, ResourceRef):
        out = {_SIG: _RESOURCE_SIG, "urn": value.urn, "packageVersion": ""}
        if value.id is not None:
            out["id"] = value.id
        return out
    if isinstance(value, Secret):
        return {_SIG: _SECRET_SIG, "value": _encode(value.value)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def encode_struct(value: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(_encode(value))
    return s


def unwrap(value: Any) -> Any:
    """Strip Secret markers (for assertions on the plain value)."""
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value

