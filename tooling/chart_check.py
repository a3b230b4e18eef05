"""The chart check the config validator takes as a hook (``parse_config(..., chart_check=...)``):
``ciliumExtraValues`` held to the pinned Cilium chart's ``values.schema.json`` and to the keys its
``values.yaml`` defines, through ``tooling.contracts.helm_values_problems``.

The product core is standard-library only, so it cannot read the chart itself: the offline plan, the
CLI's preflight (before `pulumi preview` and `up`) and the tests build this hook from the reference
data (``tooling.reference``: ``$CILIUM_EKS_REFERENCE_DIR``, else the ``make reference`` cache).
Without reference data there is no hook, and the callers say so (:data:`UNAVAILABLE`); for a chart
version the data does not hold, the hook answers None and the validator warns.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cilium_eks.cilium import CHART
from cilium_eks.config import ChartCheck

from . import reference
from .contracts import ContractError, helm_values_problems, load_chart_reference

UNAVAILABLE = (f"ciliumExtraValues is not checked against the Cilium chart's schema and keys: no chart reference "
               f"data on this machine; run `{reference.DOWNLOAD_COMMAND}` (or set {reference.DIR_ENV})")


def cilium_chart_check() -> ChartCheck | None:
    """The hook, or None when no reference data for any Cilium chart is at hand."""
    if reference.reference_directory(CHART) is None:
        return None

    def check(version: str, values: Mapping[str, Any]) -> Sequence[str] | None:
        found = reference.reference_file(f"{CHART}/{version}/values.yaml")
        if found is None:
            return None
        try:
            chart = load_chart_reference(found.parent.parent, version)
        except ContractError:
            return None
        return helm_values_problems(values, chart)

    return check


def offline_chart_check(project: str, secret_keys: Collection[str]) -> tuple[ChartCheck | None, str | None]:
    """The hook for a tool that reads the stack file without its passphrase, and the note to print
    when there is none: encrypted parts of ``ciliumExtraValues`` reach such a tool as placeholders,
    which the chart would judge instead of the real values, so then nothing is checked."""
    if f"{project}:ciliumExtraValues" in secret_keys or "ciliumExtraValues" in secret_keys:
        return None, ("ciliumExtraValues holds encrypted values, which cannot be read without the stack's "
                      "passphrase: not checked against the Cilium chart here")
    check = cilium_chart_check()
    return check, (None if check is not None else UNAVAILABLE)
