"""The rules' config schemas (``--policy-pack-config``), with production-strict defaults."""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema

from .core.cilium import DEFAULT_VERSION as DEFAULT_CILIUM_VERSION
from .core.operator_iam import ALLOWED_ACTIONS as OPERATOR_ALLOWED_ACTIONS

ENI_MODE_SCHEMA = PolicyConfigSchema(properties={
    "removedValues": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Helm value paths refused in addition to those the pinned chart removed "
                       "(cilium_eks.cilium.REMOVED_VALUES).",
    },
    "allowValueYamlFiles": {
        "type": "boolean", "default": False,
        "description": "Allow values from valueYamlFiles, which this pack cannot inspect.",
    },
})

VERSION_SCHEMA = PolicyConfigSchema(properties={
    "minimumVersion": {
        "type": "string", "pattern": r"^\d+\.\d+\.\d+$", "default": DEFAULT_CILIUM_VERSION,
        "description": "Oldest Cilium chart version allowed (the version this project targets).",
    },
})

LEAST_PRIVILEGE_SCHEMA = PolicyConfigSchema(properties={
    "allowedActions": {
        "type": "array", "items": {"type": "string"}, "default": list(OPERATOR_ALLOWED_ACTIONS),
        "description": "The only IAM actions cilium-operator's role may be granted "
                       "(default: the EC2 actions of Cilium's ENI documentation).",
    },
})

HUBBLE_SCHEMA = PolicyConfigSchema(properties={
    "requireRelay": {"type": "boolean", "default": True, "description": "Require hubble.relay.enabled."},
    "requireUi": {"type": "boolean", "default": True, "description": "Require hubble.ui.enabled."},
    "requireTls": {"type": "boolean", "default": True,
                   "description": "Require hubble.tls.enabled (mTLS between relay and agents)."},
})

API_SCHEMA = PolicyConfigSchema(properties={
    "forbiddenCidrs": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "CIDRs refused in publicAccessCidrs in addition to any /0 (0.0.0.0/0, ::/0).",
    },
})

LOGS_SCHEMA = PolicyConfigSchema(properties={
    "requiredLogTypes": {
        "type": "array", "items": {"type": "string"}, "default": ["api", "audit", "authenticator"],
        "description": "Control-plane log types that must be enabled (security trail: API calls, "
                       "audit events, IAM authentication).",
    },
})
