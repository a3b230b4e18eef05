"""stack-config-valid: the stack's configuration passes the program's own validator
(``core/config``: every key, the rules across keys, the capacity model, the known-bad table).

The program refuses the same problems before it declares anything; the pack runs the one shared
validator again on the config the engine hands it (``PULUMI_CONFIG``), so a stack evaluated with a
changed or forked program is held to the same rules. ``deploy`` problems (refused by `pulumi up`
only) are not reported: the pack cannot tell a preview from an update.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from ..context import StackContext
from ..core.config import ConfigError, parse_config
from ..props import explain


def validate_stack_config_valid(args: StackValidationArgs, report_violation: ReportViolation,
                                context: StackContext | None = None) -> None:
    context = context or StackContext.from_environment()
    if context.project is None or context.stack is None or not context.config:
        return  # the engine passed no stack config: nothing to validate
    try:
        parse_config(context.config, project=context.project, stack=context.stack,
                     region=context.config.get("aws:region"))
    except ConfigError as exc:
        for problem in exc.problems:
            report_violation(explain(
                f"Stack {context.stack}: {problem.key}: {problem.what}.",
                "the program refuses this configuration before it declares anything; a program that "
                "declared it anyway would build a cluster that fails (or fails later, at AWS or Helm)",
                problem.fix), None)
