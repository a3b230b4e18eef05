"""docs/upgrading.md, section ``versions``: the Kubernetes and Cilium versions the validator
accepts, and what each committed stack pins."""

from __future__ import annotations

from cilium_eks.cilium import MIN_VERSION as MIN_CILIUM_VERSION
from cilium_eks.cilium import NEWEST_MINOR as NEWEST_CILIUM_MINOR
from cilium_eks.config import CONFIG_KEYS_BY_NAME
from cilium_eks.eks import SUPPORTED_KUBERNETES_VERSIONS

from ..stackfiles import project_name, stack_config, stack_files


def versions_section() -> str:
    project = project_name()
    stacks = {stack: stack_config(stack) for stack in stack_files()}
    lo = ".".join(map(str, MIN_CILIUM_VERSION))
    hi = ".".join(map(str, NEWEST_CILIUM_MINOR))
    lines = [
        "What `cilium_eks/config` accepts today, and what each committed stack pins:",
        "",
        f"- `kubernetesVersion`: one of {', '.join(f'`{v}`' for v in SUPPORTED_KUBERNETES_VERSIONS)} "
        f"(default `{CONFIG_KEYS_BY_NAME['kubernetesVersion'].default}`).",
        f"- `ciliumVersion`: an exact `x.y.z` from `{lo}` up to the newest checked minor, `{hi}.x` "
        f"(default `{CONFIG_KEYS_BY_NAME['ciliumVersion'].default}`).",
        "",
        "| Stack | kubernetesVersion | ciliumVersion |",
        "|---|---|---|",
    ]
    for stack, cfg in stacks.items():
        k8s = cfg.get(f"{project}:kubernetesVersion", CONFIG_KEYS_BY_NAME["kubernetesVersion"].default)
        cilium = cfg.get(f"{project}:ciliumVersion", CONFIG_KEYS_BY_NAME["ciliumVersion"].default)
        lines.append(f"| {stack} | `{k8s}` | `{cilium}` |")
    return "\n".join(lines) + "\n"
