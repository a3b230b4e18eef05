"""cilium-release-does-not-wait: a Cilium release installed before its nodes must not wait for its pods."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    Deferred,
    explain,
    get,
)
from ..resources import (
    is_cilium_release,
    release_label,
)


def validate_cilium_release_does_not_wait(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    label = release_label(args.name, args.props)
    why = ("the release is installed before any node exists (nodes join only after Cilium), so no "
           "Cilium pod can become ready: a release that waits blocks until its timeout and fails, and "
           "the node groups that wait for it are never created (deadlock)")
    deferred = Deferred()
    skip = get(args.props, "skipAwait")
    if deferred.check(skip, "skipAwait") and skip is not True:
        state = "not set, and the provider defaults to waiting" if skip is None else repr(skip)
        report_violation(explain(
            f"{label} waits for its resources to become ready (skipAwait is {state}).", why,
            "set skip_await=True on the release (components/cilium.py); `cilium status` and the "
            "nodes' agent-not-ready taint take over the readiness check"), None)
    for flag, meaning in (("atomic", "atomic implies waiting (and a rollback when the wait times out)"),
                          ("waitForJobs", "waitForJobs waits for the chart's Jobs, which need nodes")):
        value = get(args.props, flag)
        if deferred.check(value, flag) and value is True:
            report_violation(explain(f"{label} sets {flag}: true; {meaning}.", why,
                                     f"set {flag} to false on the release (components/cilium.py)"), None)
    deferred.finish()
