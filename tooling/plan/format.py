"""Small formatting helpers shared by the plan's renderers."""

from __future__ import annotations


def label(name: str, prefix: str) -> str:
    """A resource name without the ``<project>-<stack>-`` prefix every name starts with."""
    return name[len(prefix) + 1:] if name.startswith(prefix + "-") else name


def fmt_seconds(seconds: int) -> str:
    if seconds < 60:
        return f"~{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"~{minutes} min" + (f" {rest} s" if rest else "")


def fmt_clock(seconds: int) -> str:
    return f"{seconds // 60:d}:{seconds % 60:02d}"
