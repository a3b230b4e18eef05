"""cilium-version-pinned: the Cilium chart is pinned to an exact x.y.z at or above the floor."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..core.cilium import DEFAULT_VERSION as DEFAULT_CILIUM_VERSION
from ..core.cilium import parse_version
from ..props import (
    UNKNOWN,
    explain,
    get,
    settings,
    undecidable,
)
from ..resources import (
    is_cilium_release,
    release_label,
)
from ..schemas import VERSION_SCHEMA


def validate_cilium_version_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    cfg = settings(args.get_config(), VERSION_SCHEMA)
    floor_text = str(cfg["minimumVersion"])
    floor = parse_version(floor_text) or parse_version(DEFAULT_CILIUM_VERSION)
    label = release_label(args.name, args.props)
    fix = f"pin an exact release with `pulumi config set cilium-eks:ciliumVersion {DEFAULT_CILIUM_VERSION}`"
    version = get(args.props, "version")
    if version is UNKNOWN:
        undecidable("version")
    if version is None or version == "":
        report_violation(explain(
            f"{label} pins no chart version.",
            "Helm then installs whatever the repository serves as newest at `pulumi up` time: a new "
            "Cilium minor can change ENI defaults or refuse values, on a cluster whose every pod "
            "depends on it", fix), None)
        return
    parsed = parse_version(str(version)) if isinstance(version, str) else None
    if parsed is None:
        report_violation(explain(
            f"{label} has chart version {version!r}, not an exact x.y.z release.",
            "a range or partial version lets Helm pick a different chart on every update; the ENI "
            "values and the operator's IAM actions were checked against one exact chart", fix), None)
    elif floor is not None and parsed < floor:
        report_violation(explain(
            f"{label} pins chart {version}, older than the allowed minimum {floor_text}.",
            "older charts use other ENI defaults (e.g. IPv4 masquerading) and value names than the "
            "ones this project and pack were checked against",
            f"{fix}, or lower this policy's minimumVersion config if you must roll back"), None)
