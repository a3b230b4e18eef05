"""The stack configuration: declared keys (``keys``), the frozen model (``model``), the pure
validator (``validate``) and, for the program only, reading it from Pulumi (``read``)."""

from .keys import CONFIG_KEYS, CONFIG_KEYS_BY_NAME, DEFAULT_NODE_GROUPS, ENVIRONMENTS, ConfigKey, Environment
from .model import StackConfig
from .problems import ConfigError, Problem, Severity
from .validate import parse_config

__all__ = [
    "CONFIG_KEYS",
    "CONFIG_KEYS_BY_NAME",
    "DEFAULT_NODE_GROUPS",
    "ENVIRONMENTS",
    "ConfigError",
    "ConfigKey",
    "Environment",
    "Problem",
    "Severity",
    "StackConfig",
    "parse_config",
]
