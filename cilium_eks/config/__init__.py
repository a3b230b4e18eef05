"""The stack configuration: declared keys (``keys``), the frozen model (``model``), the pure
validator (``validate``), the checks only the provider can answer at deploy time (``deploytime``)
and, for the program only, reading it from Pulumi (``read``)."""

from .keys import (
    CONFIG_KEYS,
    CONFIG_KEYS_BY_NAME,
    DEFAULT_NODE_GROUPS,
    ENVIRONMENTS,
    SECRET_CAPABLE_KEYS,
    ConfigKey,
    Environment,
)
from .model import StackConfig
from .problems import ConfigError, Problem, Severity
from .validate import ChartCheck, parse_config

__all__ = [
    "CONFIG_KEYS",
    "CONFIG_KEYS_BY_NAME",
    "DEFAULT_NODE_GROUPS",
    "ENVIRONMENTS",
    "SECRET_CAPABLE_KEYS",
    "ChartCheck",
    "ConfigError",
    "ConfigKey",
    "Environment",
    "Problem",
    "Severity",
    "StackConfig",
    "parse_config",
]
