"""Living docs: the generated parts of docs/ and Pulumi.yaml come from the code and are checked in sync.

    python -m tooling.docs           # rewrite every generated part
    python -m tooling.docs --check   # exit 1 naming every file whose generated part is stale

In docs/*.md only the text between ``<!-- BEGIN GENERATED <name> ... -->`` and
``<!-- END GENERATED <name> -->`` is written; in Pulumi.yaml only the top-level ``config:``
block. Everything around them is hand-written and kept. Generated today:

* docs/architecture.md, section ``dependency-graph``: the dev stack's plan (Mermaid graph, waves,
  critical path, ordering checks), from ``tooling.plan`` on the real program; section ``layout``:
  each part of the project, its job and what it may import, from ``tooling.layout``.
* docs/configuration.md, section ``reference``: every key of ``CONFIG_KEYS`` with its type,
  default, value in each committed stack and meaning, and the fields of the object-valued keys.
* docs/upgrading.md, section ``versions``: the Kubernetes and Cilium versions the validator
  accepts and what each stack pins.
* Pulumi.yaml, block ``config:``: every key of ``CONFIG_KEYS`` Pulumi can type, the others in a comment.

Modules: ``markers`` (the generated sections), ``architecture``, ``configuration``,
``upgrading`` and ``pulumi_yaml`` (one per generated file), ``sync`` (what goes where, what is
stale), ``cli`` (the command line; ``__main__`` runs it).

Exit codes: 0 ok (or up to date), 1 stale (--check) or a doc without its markers.
"""

from .architecture import ARCHITECTURE_STACK, architecture_section, layout_section
from .cli import main
from .configuration import NODE_GROUP_FIELDS, OBJECT_FIELDS, configuration_section
from .markers import REGENERATE, DocsError, begin_marker, end_marker, render
from .pulumi_yaml import PULUMI_YAML, config_block, render_pulumi_yaml
from .sync import DOCS_DIR, generate, generators, stale
from .upgrading import versions_section

__all__ = [
    "ARCHITECTURE_STACK",
    "DOCS_DIR",
    "NODE_GROUP_FIELDS",
    "OBJECT_FIELDS",
    "PULUMI_YAML",
    "REGENERATE",
    "DocsError",
    "architecture_section",
    "begin_marker",
    "config_block",
    "configuration_section",
    "end_marker",
    "generate",
    "generators",
    "layout_section",
    "main",
    "render",
    "render_pulumi_yaml",
    "stale",
    "versions_section",
]
