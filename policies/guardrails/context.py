"""What the pack knows about the stack it runs for, before it sees any resource."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The only environment class that relaxes the strict rules (as the program's validator decides:
#: ``StackConfig.strict``).
DEVELOPMENT = "development"


@dataclass(frozen=True)
class StackContext:
    """What the pack knows about the stack it runs for, before it sees any resource.

    ``environment`` is the program's own ``<project>:environment`` config value (the same
    value the program writes into the cluster's ``environment`` tag). The engine passes a
    policy pack the stack's config in ``PULUMI_CONFIG`` (and ``PULUMI_PROJECT``,
    ``PULUMI_STACK``), so it is known when the pack starts. When it cannot be read, the
    stack is treated as production: strict by default.
    """

    project: str | None = None
    stack: str | None = None
    environment: str | None = None
    #: The stack's whole config as the engine passes it (what ``stack-config-valid`` validates).
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def production(self) -> bool:
        """Strict unless the stack says `development`: a missing, misspelled or other class
        (staging) never weakens the rules."""
        return self.environment != DEVELOPMENT

    @classmethod
    def from_config(cls, project: str | None, stack: str | None, config: Mapping[str, Any]) -> StackContext:
        env = config.get(f"{project}:environment") if project else None
        return cls(project=project, stack=stack, environment=str(env) if isinstance(env, str) else None,
                   config=dict(config))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StackContext:
        environ = os.environ if environ is None else environ
        try:
            config = json.loads(environ.get("PULUMI_CONFIG") or "{}")
        except ValueError:
            config = {}
        return cls.from_config(environ.get("PULUMI_PROJECT"), environ.get("PULUMI_STACK"),
                               config if isinstance(config, dict) else {})
