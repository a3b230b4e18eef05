"""The CEL rules (``x-kubernetes-validations``) of Karpenter 1.14.1's NodePool and EC2NodeClass CRDs
(``karpenter.sh_nodepools.yaml``, ``karpenter.k8s.aws_ec2nodeclasses.yaml``, aws/karpenter-provider-aws
v1.14.1 ``pkg/apis/crds/``), translated to JSON Schema for ``crds.CEL_RULE_TRANSLATIONS``.

Each entry is keyed by the rule's exact text and applies at the schema node that declares it. A
translation accepts exactly what the API server's CEL evaluation accepts, with three stated exceptions:

* Transition rules (they read ``oldSelf``) apply to updates only; a created object is never refused by
  them, so they translate to ``{}``.
* ``networkInterfaces``' rule compares elements with each other (no two with the same card and device
  index, at most one EFA-only per card), which JSON Schema cannot express over unbounded indexes. The
  translation is stricter: at most one interface, which satisfies the rule. The program declares none.
* A CEL expression that errors (``int()`` of a non-number, ``self.split('@')[1]`` of a string without
  ``@``) refuses the object; the translations refuse those too.

In CEL, ``self.all(x, ...)`` over a map ranges over its keys (``propertyNames`` here);
``x.find("^([^/]+)")`` is a label's domain (everything before the first ``/``), so
``endsWith("karpenter.sh")`` is the pattern ``^[^/]*karpenter\\.sh(/|$)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SIGNALS = ["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree",
            "pid.available"]
_RESERVED = ["cpu", "memory", "ephemeral-storage", "pid"]
_SH_ALLOWED = ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"]
_AWS_ALLOWED_REQUIREMENT = [
    "karpenter.k8s.aws/instance-tenancy", "karpenter.k8s.aws/capacity-reservation-type",
    "karpenter.k8s.aws/capacity-reservation-id", "karpenter.k8s.aws/capacity-reservation-interruptible",
    "karpenter.k8s.aws/ec2nodeclass", "karpenter.k8s.aws/instance-encryption-in-transit-supported",
    "karpenter.k8s.aws/instance-category", "karpenter.k8s.aws/instance-hypervisor",
    "karpenter.k8s.aws/instance-family", "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-local-nvme", "karpenter.k8s.aws/instance-size", "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-cpu-manufacturer", "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz",
    "karpenter.k8s.aws/instance-memory", "karpenter.k8s.aws/instance-ebs-bandwidth",
    "karpenter.k8s.aws/instance-network-bandwidth", "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-gpu-manufacturer", "karpenter.k8s.aws/instance-gpu-count",
    "karpenter.k8s.aws/instance-gpu-memory", "karpenter.k8s.aws/instance-accelerator-name",
    "karpenter.k8s.aws/instance-accelerator-manufacturer", "karpenter.k8s.aws/instance-accelerator-count",
    "karpenter.k8s.aws/instance-capability-flex", "karpenter.k8s.aws/placement-group-id",
    "karpenter.k8s.aws/placement-group-partition",
]
#: The labels rule lists capacity-reservation-interruptible twice; the rule text must be reproduced exactly.
_AWS_ALLOWED_LABEL = [*_AWS_ALLOWED_REQUIREMENT[:4], _AWS_ALLOWED_REQUIREMENT[3], *_AWS_ALLOWED_REQUIREMENT[4:]]


def _quoted(values: list[str], quote: str = '"') -> str:
    return "[" + ", ".join(f"{quote}{v}{quote}" for v in values) + "]"


def _domain(allowed: list[str], domain: str) -> dict[str, Any]:
    """A label key: one of ``allowed``, or not in ``domain`` (nor a sub-domain ending in it)."""
    return {"anyOf": [{"enum": allowed}, {"not": {"pattern": "^[^/]*" + domain.replace(".", r"\.") + "(/|$)"}}]}


def _required_any(*names: str) -> dict[str, Any]:
    return {"anyOf": [{"required": [n]} for n in names]}


def _not_all(condition: dict[str, Any]) -> dict[str, Any]:
    """``!self.all(x, P)``: some element fails P (an empty list has none, so it is refused)."""
    return {"contains": {"not": condition}}


def _alias_family(alias_family: str, ami_family: str) -> dict[str, Any]:
    """If amiFamily is set and a term's alias is of ``alias_family``, amiFamily is Custom or ``ami_family``."""
    return {"if": {"required": ["amiFamily", "amiSelectorTerms"], "properties": {"amiSelectorTerms": {"contains": {
        "required": ["alias"], "properties": {"alias": {"pattern": f"^{alias_family}(@|$)"}}}}}},
        "then": {"properties": {"amiFamily": {"enum": ["Custom", ami_family]}}}}


def _soft_keys_in(source: str, target: str) -> dict[str, Any]:
    """Every key of ``source`` is a key of ``target`` (keys are eviction signals, a closed set)."""
    return {"allOf": [{"if": {"required": [source], "properties": {source: {"required": [s]}}},
                       "then": {"required": [target], "properties": {target: {"required": [s]}}}} for s in _SIGNALS]}


_ALIAS_FAMILIES = {"al2": "AL2", "al2023": "AL2023", "bottlerocket": "Bottlerocket", "windows2019": "Windows2019",
                   "windows2022": "Windows2022", "windows2025": "Windows2025"}


def _rules() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        # --- NodePool ---------------------------------------------------------------------------
        "has(self.replicas) == has(oldSelf.replicas)": {},
        "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && "
        "'nodes' in self.limits))": {"if": {"required": ["replicas"]}, "then": {"anyOf": [
            {"not": {"required": ["limits"]}}, {"properties": {"limits": {"maxProperties": 0}}},
            {"properties": {"limits": {"maxProperties": 1, "required": ["nodes"]}}}]}},
        "!has(self.replicas) || !has(self.weight)": {"not": {"required": ["replicas", "weight"]}},
        "self.all(x, has(x.schedule) == has(x.duration))": {"items": {"anyOf": [
            {"required": ["schedule", "duration"]},
            {"not": {"anyOf": [{"required": ["schedule"]}, {"required": ["duration"]}]}}]}},
        f"self.all(x, x in {_quoted(_SH_ALLOWED)} || !x.find(\"^([^/]+)\").endsWith(\"karpenter.sh\"))":
            {"propertyNames": _domain(_SH_ALLOWED, "karpenter.sh")},
        'self.all(x, x != "karpenter.sh/nodepool")': {"propertyNames": {"not": {"const": "karpenter.sh/nodepool"}}},
        'self.all(x, x != "kubernetes.io/hostname")': {"propertyNames": {"not": {"const": "kubernetes.io/hostname"}}},
        f"self.all(x, x in {_quoted(_AWS_ALLOWED_LABEL)} || !x.find(\"^([^/]+)\").endsWith(\"karpenter.k8s.aws\"))":
            {"propertyNames": _domain(_AWS_ALLOWED_REQUIREMENT, "karpenter.k8s.aws")},
        "self.group == oldSelf.group": {},
        "self.kind == oldSelf.kind": {},
        "self != ''": {"minLength": 1},
        "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)": {"items": {
            "if": {"required": ["operator"], "properties": {"operator": {"const": "In"}}},
            "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}}}},
        "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? "
        "(x.values.size() == 1 && int(x.values[0]) >= 0) : true)": {"items": {
            "if": {"required": ["operator"], "properties": {"operator": {"enum": ["Gt", "Lt", "Gte", "Lte"]}}},
            "then": {"required": ["values"], "properties": {"values": {
                "minItems": 1, "maxItems": 1, "items": {"pattern": r"^\+?[0-9]+$"}}}}}},
        "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)": {"items": {
            "if": {"required": ["operator", "minValues"], "properties": {"operator": {"const": "In"}}},
            # minValues is 1..50 (its own schema): one branch per value.
            "then": {"required": ["values"], "anyOf": [
                {"properties": {"minValues": {"const": n}, "values": {"minItems": n}}} for n in range(1, 51)]}}},
        f"self in {_quoted(_SH_ALLOWED)} || !self.find(\"^([^/]+)\").endsWith(\"karpenter.sh\")":
            _domain(_SH_ALLOWED, "karpenter.sh"),
        'self != "karpenter.sh/nodepool"': {"not": {"const": "karpenter.sh/nodepool"}},
        'self != "kubernetes.io/hostname"': {"not": {"const": "kubernetes.io/hostname"}},
        f"self in {_quoted(_AWS_ALLOWED_REQUIREMENT)} || !self.find(\"^([^/]+)\").endsWith(\"karpenter.k8s.aws\")":
            _domain(_AWS_ALLOWED_REQUIREMENT, "karpenter.k8s.aws"),
        # --- EC2NodeClass -----------------------------------------------------------------------
        "(has(self.role) && !has(self.instanceProfile)) || (!has(self.role) && has(self.instanceProfile))":
            {"oneOf": [{"required": ["role"]}, {"required": ["instanceProfile"]}]},
        "self.amiSelectorTerms.exists(x, has(x.alias)) ? true : has(self.amiFamily)": {"anyOf": [
            {"required": ["amiFamily"]},
            {"required": ["amiSelectorTerms"],
             "properties": {"amiSelectorTerms": {"contains": {"required": ["alias"]}}}}]},
        "self.all(x, has(x.tags) || has(x.id) || has(x.name) || has(x.alias) || has(x.ssmParameter))":
            {"items": _required_any("tags", "id", "name", "alias", "ssmParameter")},
        "!self.exists(x, has(x.id) && (has(x.alias) || has(x.tags) || has(x.name) || has(x.owner)))":
            {"items": {"not": {"required": ["id"], **_required_any("alias", "tags", "name", "owner")}}},
        "!self.exists(x, has(x.alias) && (has(x.id) || has(x.tags) || has(x.name) || has(x.owner)))":
            {"items": {"not": {"required": ["alias"], **_required_any("id", "tags", "name", "owner")}}},
        "!(self.exists(x, has(x.alias)) && self.size() != 1)":
            {"anyOf": [{"not": {"contains": {"required": ["alias"]}}}, {"maxItems": 1}]},
        "self.matches('^[a-zA-Z0-9]+@.+$')": {"pattern": "^[a-zA-Z0-9]+@.+$"},
        "self.split('@')[0] in ['al2','al2023','bottlerocket','windows2019','windows2022','windows2025']":
            {"pattern": "^(al2|al2023|bottlerocket|windows2019|windows2022|windows2025)(@|$)"},
        "self.split('@')[0] in ['windows2019','windows2022','windows2025'] ? self.split('@')[1] == 'latest' : true":
            {"if": {"pattern": "^windows(2019|2022|2025)(@|$)"},
             "then": {"pattern": "^windows(2019|2022|2025)@latest(@|$)"}},
        "self.all(k, k != '' && self[k] != '')":
            {"propertyNames": {"minLength": 1}, "additionalProperties": {"minLength": 1}},
        "self.filter(x, has(x.rootVolume)?x.rootVolume==true:false).size() <= 1": {
            "contains": {"required": ["rootVolume"], "properties": {"rootVolume": {"const": True}}},
            "minContains": 0, "maxContains": 1},
        "has(self.snapshotID) || has(self.volumeSize)": _required_any("snapshotID", "volumeSize"),
        "!has(self.volumeInitializationRate) || (has(self.snapshotID) && self.snapshotID != '')": {
            "if": {"required": ["volumeInitializationRate"]},
            "then": {"required": ["snapshotID"], "properties": {"snapshotID": {"minLength": 1}}}},
        "self.all(x, has(x.tags) || has(x.id) || has(x.instanceMatchCriteria))":
            {"items": _required_any("tags", "id", "instanceMatchCriteria")},
        "!self.all(x, has(x.id) && (has(x.tags) || has(x.ownerID) || has(x.instanceMatchCriteria)))":
            _not_all({"required": ["id"], **_required_any("tags", "ownerID", "instanceMatchCriteria")}),
        "has(self.tcpEstablishedTimeout) || has(self.udpStreamTimeout) || has(self.udpTimeout)":
            _required_any("tcpEstablishedTimeout", "udpStreamTimeout", "udpTimeout"),
        # Both are 0..100 (their own schemas): one branch per high value.
        "has(self.imageGCHighThresholdPercent) && has(self.imageGCLowThresholdPercent) ?  "
        "self.imageGCHighThresholdPercent > self.imageGCLowThresholdPercent  : true": {
            "if": {"required": ["imageGCHighThresholdPercent", "imageGCLowThresholdPercent"]},
            "then": {"anyOf": [{"properties": {"imageGCHighThresholdPercent": {"const": h},
                                               "imageGCLowThresholdPercent": {"maximum": h - 1}}}
                               for h in range(1, 101)]}},
        "has(self.evictionSoft) ? self.evictionSoft.all(e, (e in self.evictionSoftGracePeriod)):true":
            _soft_keys_in("evictionSoft", "evictionSoftGracePeriod"),
        "has(self.evictionSoftGracePeriod) ? self.evictionSoftGracePeriod.all(e, (e in self.evictionSoft)):true":
            _soft_keys_in("evictionSoftGracePeriod", "evictionSoft"),
        f"self.all(x, x in {_quoted(_SIGNALS, chr(39)).replace(', ', ',')})": {"propertyNames": {"enum": _SIGNALS}},
        "self.all(x, x=='cpu' || x=='memory' || x=='ephemeral-storage' || x=='pid')":
            {"propertyNames": {"enum": _RESERVED}},
        "self.all(x, !self[x].startsWith('-'))": {"additionalProperties": {"not": {"pattern": "^-"}}},
        "self.size() == 0 || self.exists(x, x.deviceIndex == 0 && x.networkCardIndex == 0 && "
        "x.interfaceType == 'interface')": {"anyOf": [{"maxItems": 0}, {"contains": {
            "required": ["deviceIndex", "networkCardIndex", "interfaceType"],
            "properties": {"deviceIndex": {"const": 0}, "networkCardIndex": {"const": 0},
                           "interfaceType": {"const": "interface"}}}}]},
        # Stricter than the rule (see the module docstring): one interface can never collide.
        "self.all(x, self.filter(y, x.networkCardIndex == y.networkCardIndex && x.deviceIndex == y.deviceIndex)"
        ".size() == 1 && (x.interfaceType != 'efa-only' || self.filter(y, x.networkCardIndex == y.networkCardIndex "
        "&& y.interfaceType == 'efa-only').size() == 1))": {"maxItems": 1},
        "has(self.name) || has(self.id)": _required_any("name", "id"),
        "!(has(self.name) && has(self.id))": {"not": {"required": ["name", "id"]}},
        "self.size() != 0": {"minItems": 1},
        "self.all(x, has(x.tags) || has(x.id) || has(x.name))": {"items": _required_any("tags", "id", "name")},
        "!self.all(x, has(x.id) && (has(x.tags) || has(x.name)))":
            _not_all({"required": ["id"], **_required_any("tags", "name")}),
        "!self.all(x, has(x.name) && (has(x.tags) || has(x.id)))":
            _not_all({"required": ["name"], **_required_any("tags", "id")}),
        "self.all(x, has(x.tags) || has(x.id))": {"items": _required_any("tags", "id")},
        "!self.all(x, has(x.id) && has(x.tags))": _not_all({"required": ["id", "tags"]}),
        "self.all(k, k != '')": {"propertyNames": {"minLength": 1}},
        "self.all(k, k !='eks:eks-cluster-name')": {"propertyNames": {"not": {"const": "eks:eks-cluster-name"}}},
        "self.all(k, !k.startsWith('kubernetes.io/cluster') )":
            {"propertyNames": {"not": {"pattern": "^kubernetes\\.io/cluster"}}},
        "self.all(k, k != 'karpenter.sh/nodepool')": {"propertyNames": {"not": {"const": "karpenter.sh/nodepool"}}},
        "self.all(k, k !='karpenter.sh/nodeclaim')": {"propertyNames": {"not": {"const": "karpenter.sh/nodeclaim"}}},
        "self.all(k, k !='karpenter.k8s.aws/ec2nodeclass')":
            {"propertyNames": {"not": {"const": "karpenter.k8s.aws/ec2nodeclass"}}},
    }
    for alias, family in _ALIAS_FAMILIES.items():
        out[f"!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == "
            f"'{alias}') ? (self.amiFamily == 'Custom' || self.amiFamily == '{family}') : true)"] = \
            _alias_family(alias, family)
    return out


KARPENTER_CEL_RULES: Mapping[str, Mapping[str, Any]] = _rules()
