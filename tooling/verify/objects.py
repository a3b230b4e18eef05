"""Reading Kubernetes objects as ``kubectl get -o json`` returns them: a ``List`` or its
``items``, as plain mappings. Pure helpers, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = Mapping[str, Any]


def items(objs: Obj | Sequence[Obj] | None) -> list[Obj]:
    """The objects of a ``kubectl get -o json`` answer (a List) or of a plain list."""
    if objs is None:
        return []
    if isinstance(objs, Mapping):
        return list(objs.get("items") or [])
    return list(objs)


def meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def name_of(o: Obj) -> str:
    return str(meta(o).get("name", ""))


def key_of(o: Obj) -> str:
    ns = meta(o).get("namespace")
    return f"{ns}/{name_of(o)}" if ns else name_of(o)


def find_object(objs: Obj | Sequence[Obj] | None, name: str, namespace: str | None = None) -> Obj | None:
    for o in items(objs):
        if name_of(o) == name and (namespace is None or meta(o).get("namespace") == namespace):
            return o
    return None


def condition(o: Obj, type_: str) -> Obj | None:
    for c in (o.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def has_label(o: Obj, label: tuple[str, str]) -> bool:
    return (meta(o).get("labels") or {}).get(label[0]) == label[1]


def pod_ready(pod: Obj) -> bool:
    ready = condition(pod, "Ready")
    return (pod.get("status") or {}).get("phase") == "Running" and bool(ready) and ready.get("status") == "True"


def host_network(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def networked_pods(pods: Obj | Sequence[Obj] | None) -> tuple[list[Obj], list[Obj]]:
    """Pods with a pod-network IP (not host-networked, not finished, not being deleted), and
    those still waiting for one."""
    with_ip, waiting = [], []
    for p in items(pods):
        status = p.get("status") or {}
        if host_network(p) or status.get("phase") in ("Succeeded", "Failed") or meta(p).get("deletionTimestamp"):
            continue
        (with_ip if status.get("podIP") else waiting).append(p)
    return with_ip, waiting


def cilium_nodes(nodes: Obj | Sequence[Obj] | None) -> list[Obj]:
    """Nodes a Cilium agent must run on: Linux, not Fargate (Fargate has its own network)."""
    out = []
    for n in items(nodes):
        labels = meta(n).get("labels") or {}
        if labels.get("eks.amazonaws.com/compute-type") == "fargate":
            continue
        if labels.get("kubernetes.io/os", "linux") != "linux":
            continue
        out.append(n)
    return out


def ds_counts(ds: Obj) -> dict[str, int]:
    st = ds.get("status") or {}
    # numberAvailable and updatedNumberScheduled are omitted by the API when 0
    return {k: int(st.get(k) or 0) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                             "numberAvailable", "updatedNumberScheduled", "numberMisscheduled")}


def ds_line(ds: Obj) -> str:
    c = ds_counts(ds)
    return (f"DaemonSet {key_of(ds)}: desired {c['desiredNumberScheduled']}, ready {c['numberReady']}, "
            f"available {c['numberAvailable']}, up-to-date {c['updatedNumberScheduled']}")


def rollout_done(o: Obj) -> bool:
    observed = (o.get("status") or {}).get("observedGeneration")
    generation = meta(o).get("generation")
    return observed is None or generation is None or int(observed) >= int(generation)
