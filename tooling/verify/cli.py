"""The command line of ``python -m tooling.verify`` (see the package docstring for its usage
and exit codes): where the kubeconfig comes from, then the runner and its report."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from cilium_eks.capacity import PodAddressing
from cilium_eks.config import StackConfig, parse_config

from ..paths import PROJECT_DIR
from ..stackfiles import project_name, stack_config
from .kubectl import Kubectl, Runner
from .results import EXIT_CANNOT_RUN, EXIT_OK
from .runner import Options, report, run_checks

INSTALL_KUBECTL = """kubectl is not on PATH; verify reads the cluster through it.
Install it (https://kubernetes.io/docs/tasks/tools/), then run verify again:
  Linux (x86_64): curl -LO "https://dl.k8s.io/release/$(curl -Ls https://dl.k8s.io/release/stable.txt)/bin/linux/amd64/kubectl" && sudo install -m 0755 kubectl /usr/local/bin/kubectl
                  (arm64: replace amd64 with arm64)
  macOS:          brew install kubectl
  Windows:        winget install -e --id Kubernetes.kubectl
An EKS kubeconfig also needs the AWS CLI v2 for `aws eks get-token`."""  # noqa: E501

INSTALL_PULUMI = ("install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` "
                  "(https://www.pulumi.com/docs/iac/download-install/)")


def stack_kubeconfig(stack: str, which: Callable[[str], str | None] = shutil.which,
                     run: Runner = subprocess.run, cwd: Path | None = None) -> str:
    """The stack's kubeconfig (a secret output), from the Pulumi CLI."""
    pulumi = which("pulumi")
    if pulumi is None:
        raise RuntimeError(f"--stack needs the Pulumi CLI, which is not on PATH: {INSTALL_PULUMI}")
    try:
        proc = run([pulumi, "stack", "output", "kubeconfig", "--show-secrets", "--stack", stack],
                   capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`pulumi stack output kubeconfig --stack {stack}` did not answer in 120s") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"could not read output `kubeconfig` of stack {stack!r} "
                           f"(has `pulumi up` run?): {proc.stderr.strip()[:400]}")
    return proc.stdout


def stack_settings(stack: str) -> StackConfig:
    """The stack's configuration, from its committed stack file."""
    raw = stack_config(stack)
    return parse_config(raw, project=project_name(), stack=stack, region=raw.get("aws:region"))


def stack_pod_addressing(stack: str) -> PodAddressing:
    """How the stack addresses pods on every node, from its committed stack file (the capacity check's model)."""
    return stack_settings(stack).pod_addressing


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tooling.verify", allow_abbrev=False,
                                description="Check a running cluster the way the manual recipe did.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--stack", help="read the kubeconfig from this stack's outputs (needs the Pulumi CLI)")
    src.add_argument("--kubeconfig", help="a kubeconfig file (default: kubectl's own: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--timeout", type=float, default=60, help="seconds each check may take (default 60)")
    p.add_argument("--connectivity-test", action="store_true",
                   help="also run `cilium connectivity test` (needs the cilium CLI)")
    p.add_argument("--connectivity-timeout", type=float, default=1800,
                   help="seconds `cilium connectivity test` may take (default 1800)")
    p.add_argument("--demo-namespace", help="namespace of the star-wars demo (default: found by its label)")
    return p


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         which: Callable[[str], str | None] = shutil.which, run: Runner = subprocess.run) -> int:
    stdout: TextIO = out or sys.stdout
    stderr: TextIO = err or sys.stderr
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return EXIT_CANNOT_RUN if exc.code else EXIT_OK
    if args.timeout <= 0:
        print("verify: --timeout must be a positive number of seconds", file=stderr)
        return EXIT_CANNOT_RUN
    kubectl = which("kubectl")
    if kubectl is None:
        print(INSTALL_KUBECTL, file=stderr)
        return EXIT_CANNOT_RUN

    with tempfile.TemporaryDirectory(prefix="cilium-eks-verify-") as tmp:
        kubeconfig = args.kubeconfig
        if args.stack:
            try:
                content = stack_kubeconfig(args.stack, which, run, cwd=PROJECT_DIR)
            except RuntimeError as exc:
                print(f"verify: {exc}", file=stderr)
                return EXIT_CANNOT_RUN
            path = Path(tmp) / "kubeconfig"
            path.touch(mode=0o600)  # it holds the cluster's credentials (exec) and endpoint
            path.write_text(content)
            kubeconfig = str(path)
        elif kubeconfig and not Path(kubeconfig).is_file():
            print(f"verify: --kubeconfig {kubeconfig}: no such file", file=stderr)
            return EXIT_CANNOT_RUN
        opts = Options(timeout=args.timeout, connectivity_test=args.connectivity_test,
                       connectivity_timeout=args.connectivity_timeout, demo_namespace=args.demo_namespace,
                       kubeconfig=kubeconfig, context=args.context,
                       pod_addressing=stack_pod_addressing(args.stack) if args.stack else PodAddressing(),
                       encryption=stack_settings(args.stack).cilium.encryption if args.stack else None,
                       observability=stack_settings(args.stack).cilium.observability if args.stack else None)
        target = f"stack {args.stack}" if args.stack else (kubeconfig or "kubectl's default kubeconfig")
        print(f"verify: {target}{f', context {args.context}' if args.context else ''}, "
              f"{args.timeout:g}s per check", file=stdout)
        results = run_checks(Kubectl(kubectl, kubeconfig, args.context, run), opts, which, run)
        return report(results, stdout)
