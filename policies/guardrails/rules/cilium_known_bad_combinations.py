"""cilium-known-bad-combinations: the Cilium release is no combination the known-bad table lists
(``core/known_bad.py``: version x values -> upstream issue and the safe alternative)."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ..core.known_bad import matching
from ..props import UNKNOWN, explain, get, plain, undecidable
from ..resources import is_cilium_release, release_label


def validate_cilium_known_bad_combinations(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    version = get(args.props, "version")
    values = plain(get(args.props, "values", {}))
    if version is UNKNOWN or values is UNKNOWN:
        undecidable("version" if version is UNKNOWN else "values")
    if not isinstance(version, str) or not isinstance(values, dict):
        return  # cilium-version-pinned reports a missing version
    for entry in matching(version, values):
        report_violation(explain(
            f"{release_label(args.name, args.props)} runs Cilium {version} with values that hit {entry.id} "
            f"({entry.url}).",
            entry.what,
            f"{entry.alternative} (config keys: {', '.join(f'`cilium-eks:{k}`' for k in entry.keys)})"), None)
