"""The generated sections of a hand-written doc: ``<!-- BEGIN GENERATED <name> ... -->`` to
``<!-- END GENERATED <name> -->``. Only the text between the two is ever written."""

from __future__ import annotations

import re

REGENERATE = "python -m tooling.docs"


class DocsError(Exception):
    """A doc that cannot be generated (markers missing, facts out of step with the code)."""


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: `{REGENERATE}` writes this section; do not edit by hand -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def render(text: str, name: str, content: str) -> str:
    """`text` with the generated section `name` replaced by `content`."""
    pattern = re.compile(rf"(<!-- BEGIN GENERATED {re.escape(name)}[: ].*?-->\n)(.*?)(<!-- END GENERATED "
                         rf"{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise DocsError(f"no generated section '{name}': add the lines\n{begin_marker(name)}\n{end_marker(name)}")
    body = content if content.endswith("\n") else content + "\n"
    return pattern.sub(lambda m: begin_marker(name) + "\n" + body + m.group(3), text, count=1)
