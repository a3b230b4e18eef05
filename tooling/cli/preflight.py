"""Preflight: can this machine reach the Kubernetes API the stack is about to create (or has)?

pulumi-eks only logs while the new control plane's ``/healthz`` does not answer and then carries
on (pulumi-eks ``nodejs/eks/cluster/cluster.ts``, the healthz loop); pulumi-kubernetes then
refuses the Helm release ("can't create Helm Release with unreachable cluster",
pulumi-kubernetes ``provider/pkg/provider/helm_release.go``), after a control plane that takes
about ten minutes was already created. So `preview`, `up` and `doctor` check first, from the
stack's own config: the API admits this machine when its egress address is in
``publicAccessCidrs`` of a public endpoint, or when it runs inside the VPC of a private one.
The egress address comes from AWS's https://checkip.amazonaws.com (or
``CILIUM_EKS_EGRESS_IP``, for a machine whose lookups are blocked).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from cilium_eks.config import ConfigError, StackConfig, parse_config
from cilium_eks.network import NewVpc

from ..chart_check import offline_chart_check
from ..stackfiles import StackFileError, project_name, stack_program_config
from .prerequisites import Problem

CHECKIP_URL = "https://checkip.amazonaws.com"
EGRESS_ENV = "CILIUM_EKS_EGRESS_IP"


def lookup_egress_ip(timeout: float = 5.0) -> str | None:
    try:
        with urllib.request.urlopen(CHECKIP_URL, timeout=timeout) as answer:
            text = answer.read(64).decode("ascii", "replace").strip()
        return str(ipaddress.ip_address(text))
    except (OSError, ValueError):
        return None


def local_ip() -> str | None:
    """The address this machine sends from (no packet leaves: a UDP socket is only connected)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
    except OSError:
        return None


def api_problem(cfg: StackConfig, egress: str | None, local: str | None) -> tuple[Problem | None, str]:
    """(the problem, or None; a sentence saying what was decided)."""
    c = cfg.cluster
    if c.endpoint_public_access and egress is not None:
        addr = ipaddress.ip_address(egress)
        for cidr in c.public_access_cidrs:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return None, f"this machine's egress address {egress} is in publicAccessCidrs ({cidr})"
    inside = (c.endpoint_private_access and local is not None and isinstance(cfg.network, NewVpc)
              and ipaddress.ip_address(local) in ipaddress.ip_network(cfg.network.cidr))
    if inside and isinstance(cfg.network, NewVpc):
        return None, f"this machine ({local}) is inside the VPC {cfg.network.cidr}: the private endpoint answers"
    if egress is None:
        return None, ("could not find this machine's egress address (https://checkip.amazonaws.com); the API's "
                      f"reachability is not checked (set {EGRESS_ENV} to check it)")
    if c.endpoint_private_access and not isinstance(cfg.network, NewVpc):
        return None, (f"egress {egress} is not in publicAccessCidrs; whether this machine is inside the adopted "
                      "VPC cannot be told from here: the private endpoint must answer")
    where = [f"its egress address {egress} is not in publicAccessCidrs ({', '.join(c.public_access_cidrs) or 'none'})"
             if c.endpoint_public_access else "the public endpoint is off"]
    if c.endpoint_private_access:
        where.append(f"it is not inside the VPC ({local or 'no local address'})")
    return Problem(
        f"the Kubernetes API of stack '{cfg.stack}' will not answer this machine: {'; '.join(where)}. `pulumi up` "
        "would create the control plane (~10 min) and then fail on the Cilium release",
        f"add {egress}/32 to publicAccessCidrs (`pulumi config set --path "
        f"'publicAccessCidrs[{len(c.public_access_cidrs)}]' {egress}/32 --stack {cfg.stack}`), or run this from "
        "the runner the stack names in deployRunner (inside the VPC, or with a static egress listed in "
        "publicAccessCidrs); docs/deploying.md"), ""


def preflight(command: str, stack: str, project_dir: Path, env: Mapping[str, str],
              egress: Callable[[], str | None] = lookup_egress_ip,
              local: Callable[[], str | None] = local_ip) -> tuple[list[Problem], list[str]]:
    """The problems that stop ``command`` for ``stack`` (its config's blocking problems, the API's
    reachability), and notes to print."""
    fix = f"fix the stack file (`make plan STACK={stack}` shows every problem)"
    try:  # the file as Pulumi reads it (encrypted values cannot be read here: left out)
        config = stack_program_config(stack, project_dir=project_dir)
    except StackFileError as exc:
        return [Problem(f"{exc.path}:{p.line or '?'}: {p.what}. Fix: {p.fix}", fix) for p in exc.problems], []
    raw = config.texts()
    project = project_name(project_dir)
    # The chart's schema and keys for ciliumExtraValues: `pulumi preview` cannot check them (the program
    # has no chart data), so the preflight does when the reference data is on this machine.
    check, note = offline_chart_check(project, config.secret_keys)
    try:
        cfg = parse_config(raw, project=project, stack=stack, region=raw.get("aws:region"),
                           deploying=command == "up", secret_keys=config.secret_keys, chart_check=check)
    except ConfigError as exc:
        return [Problem(f"stack '{stack}' configuration: {p}", fix) for p in exc.problems], []
    notes = [f"config: {p}" for p in cfg.warnings] + ([f"config: {note}"] if note else [])
    if command == "destroy":
        return [], notes
    problem, note = api_problem(cfg, env.get(EGRESS_ENV) or egress(), local())
    return ([problem] if problem else []), [*notes, *([note] if note else [])]
