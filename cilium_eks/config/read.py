"""Reading the running stack's configuration, inside a Pulumi program.

The only module of this package that touches the Pulumi SDK, and only when called: the
policy pack's copy of the package never calls it.
"""

from __future__ import annotations

from typing import Any

from .model import StackConfig
from .validate import parse_config


def read_stack_config() -> StackConfig:
    """Read the running stack's configuration once; raises ``ConfigError`` with every problem that
    stops this run (``deploy`` problems stop `pulumi up` only), and logs the rest as warnings.

    The values and which of them are secret come from Pulumi's runtime config, where the language
    host put them: ``pulumi-language-python-exec`` calls ``set_all_config(get_config_env(),
    get_config_secret_keys_env())`` with ``PULUMI_CONFIG`` and ``PULUMI_CONFIG_SECRET_KEYS``
    (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec L102-110; the installed SDK's
    pulumi/runtime/config.py: ``set_all_config`` L39-51, ``get_config_secret_keys_env`` L80-87,
    ``is_config_secret`` L111-115). The engine names a key secret when any leaf of its value is
    (pulumi/pulumi sdk/go/common/resource/config/map.go ``SecureKeys`` L105-113, object.go L50-72),
    so a secret ``ciliumExtraValues`` arrives as one secret key with its decrypted JSON text."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    project = pulumi.get_project()
    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    secret = {k for k in raw if runtime_config.is_config_secret(k)}
    secret.update(runtime_config.get_config_secret_keys_env())
    cfg = parse_config(raw, project=project, stack=pulumi.get_stack(), region=raw.get("aws:region"),
                       deploying=not pulumi.runtime.is_dry_run(), secret_keys=secret)
    for problem in cfg.warnings:
        pulumi.log.warn(f"{'refused by `pulumi up`: ' if problem.severity == 'deploy' else ''}{problem}")
    return cfg
