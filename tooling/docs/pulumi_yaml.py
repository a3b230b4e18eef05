"""Pulumi.yaml, block ``config:``: every key of ``CONFIG_KEYS`` with its Pulumi type, default
and description, so ``pulumi config`` knows them and the program's declaration is the one source.

Only the top-level ``config:`` block is written; everything above it (name, description,
runtime) and below it is hand-written and kept as it is. Pulumi project config types are
string, integer, boolean and array: object-valued keys cannot be declared, so they are listed
in a comment, and a key's ``choices`` can only be said in a comment too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from cilium_eks.config import CONFIG_KEYS, ConfigKey

from ..paths import PROJECT_DIR
from .markers import REGENERATE, DocsError

PULUMI_YAML = PROJECT_DIR / "Pulumi.yaml"
#: What Pulumi.yaml can declare; the rest (``object``) is documented in a comment.
PULUMI_TYPES = ("string", "integer", "boolean", "array")

_TOP_LEVEL_CONFIG = re.compile(r"^config:[ \t]*(#.*)?$")


def _scalar(value: Any) -> str:
    """``value`` as one line of YAML that loads back to exactly ``value``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def _key_lines(key: ConfigKey) -> list[str]:
    if key.type not in PULUMI_TYPES:
        raise DocsError(f"config key {key.name}: type {key.type!r} is neither a Pulumi project config type "
                        f"({', '.join(PULUMI_TYPES)}) nor `object`")
    lines = [f"  {key.name}:"]
    if key.choices:
        lines.append(f"    # One of: {', '.join(key.choices)}.")
    lines.append(f"    type: {key.type}")
    if key.type == "array":
        if not all(isinstance(v, str) for v in key.default):
            raise DocsError(f"config key {key.name}: Pulumi.yaml declares arrays of strings, the default is "
                            f"{key.default!r}")
        lines += ["    items:", "      type: string"]
    lines += [f"    default: {_scalar(key.default)}", f"    description: {_scalar(key.description)}"]
    return lines


def config_block(keys: Sequence[ConfigKey] = CONFIG_KEYS) -> str:
    """The ``config:`` block of Pulumi.yaml, generated from ``keys`` (``CONFIG_KEYS``)."""
    objects = [k for k in keys if k.type == "object"]
    lines = [
        "config:",
        f"  # Generated from CONFIG_KEYS in cilium_eks/config/keys.py: `{REGENERATE}` writes this block;",
        "  # do not edit it by hand (everything above `config:` is kept as written).",
    ]
    if objects:
        lines += [
            "  #",
            "  # Object-valued keys cannot be typed here (Pulumi project config types are string,",
            "  # integer, boolean and array). They are validated by cilium_eks/config/validate.py and",
            "  # documented in docs/configuration.md:",
            *(f"  #   {k.name}: {k.description}" for k in objects),
        ]
    for key in keys:
        if key.type != "object":
            lines += _key_lines(key)
    return "\n".join(lines) + "\n"


def render_pulumi_yaml(text: str, block: str | None = None) -> str:
    """``text`` (Pulumi.yaml) with its top-level ``config:`` block replaced by ``block``
    (default: :func:`config_block`), or the block appended if there is none. The block ends at
    the next line that starts in column 0 (a top-level key or comment); blank lines before
    that line stay outside it."""
    block = config_block() if block is None else block
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _TOP_LEVEL_CONFIG.match(line.rstrip("\r\n"))), None)
    if start is None:
        head = text if not text or text.endswith("\n") else text + "\n"
        return head + block
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])
