"""Where a stack's state lives: the user's backend if one is set, else a local file backend in
the project (``.pulumi-state/``), so no Pulumi Cloud account is needed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

STATE_DIR_NAME = ".pulumi-state"


def project_backend_url(project_dir: Path) -> str | None:
    """`backend.url` of Pulumi.yaml, if the team pinned one there."""
    doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    backend = doc.get("backend") if isinstance(doc, dict) else None
    url = backend.get("url") if isinstance(backend, dict) else None
    return url if isinstance(url, str) and url else None


@dataclass(frozen=True)
class Backend:
    url: str
    source: str  # "PULUMI_BACKEND_URL", "Pulumi.yaml" or "default"

    @property
    def is_cloud(self) -> bool:
        """Pulumi Cloud (or a self-hosted one) keeps secrets itself; DIY backends need a passphrase."""
        return self.url.startswith(("https://", "http://"))


def resolve_backend(project_dir: Path, env: Mapping[str, str]) -> Backend:
    if env.get("PULUMI_BACKEND_URL"):
        return Backend(env["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL")
    pinned = project_backend_url(project_dir)
    if pinned:
        # PULUMI_BACKEND_URL would override the project's own backend: never set it then.
        return Backend(pinned, "Pulumi.yaml")
    return Backend("file://" + (project_dir / STATE_DIR_NAME).resolve().as_posix(), "default")


def pulumi_env(project_dir: Path, env: Mapping[str, str]) -> tuple[dict[str, str], Backend]:
    """The environment for the Pulumi CLI: the local file backend unless the user chose one."""
    backend = resolve_backend(project_dir, env)
    out = dict(env)
    if backend.source == "default":
        (project_dir / STATE_DIR_NAME).mkdir(exist_ok=True)
        out["PULUMI_BACKEND_URL"] = backend.url
    return out, backend
