"""What a real deployment needs on this machine, checked before anything runs: the Pulumi CLI,
the AWS CLI and credentials, kubectl where a command needs it, a secrets passphrase for
a self-managed state backend. Every missing piece is reported at once, with how to fix it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .backend import resolve_backend
from .stacks import StackInfo

MIN_PYTHON = (3, 11)
STS_TIMEOUT_SECONDS = 10

INSTALL_PULUMI = (
    "install it with `curl -fsSL https://get.pulumi.com | sh` (Linux, macOS) or `brew install pulumi/tap/pulumi`, "
    "see https://www.pulumi.com/docs/iac/download-install/, then open a new shell"
)
INSTALL_AWS = (
    "install AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html "
    "(macOS: `brew install awscli`)"
)
INSTALL_KUBECTL = "install it: https://kubernetes.io/docs/tasks/tools/ (macOS: `brew install kubectl`)"
SET_CREDENTIALS = (
    "sign in with `aws configure sso` (once) then `aws sso login --profile NAME` and `export AWS_PROFILE=NAME`, "
    "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys)"
)
SET_PASSPHRASE = (
    "set one for this shell, e.g. keep it in a file only you can read:\n"
    "       mkdir -p ~/.config/pulumi && (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' "
    "> ~/.config/pulumi/cilium-eks.passphrase)\n"
    "       export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/pulumi/cilium-eks.passphrase\n"
    "     or `export PULUMI_CONFIG_PASSPHRASE='<passphrase>'`. Keep it safe: without it the stack's secrets "
    "(the kubeconfig) cannot be decrypted"
)


@dataclass(frozen=True)
class Problem:
    """A missing prerequisite: what is missing and exactly how to fix it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


def python_problem(version: Sequence[int], executable: str) -> Problem | None:
    if tuple(version[:2]) >= MIN_PYTHON:
        return None
    found = ".".join(str(v) for v in version[:3])
    need = ".".join(str(v) for v in MIN_PYTHON)
    return Problem(
        f"Python {need} or newer is needed, {executable} is Python {found}",
        f"install Python {need}+ (https://www.python.org/downloads/, `brew install python@3.12`, "
        f"`sudo apt-get install python3.12 python3.12-venv`) and run again with it, e.g. "
        f"`make test PYTHON=python3.12`",
    )


def which(tool: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(tool, path=env.get("PATH", ""))


def credentials_problem(aws: str, region: str, env: Mapping[str, str]) -> Problem | None:
    cmd = [aws, "sts", "get-caller-identity", "--output", "json"]
    if region:
        cmd += ["--region", region]
    try:
        result = subprocess.run(cmd, env={**env, "AWS_PAGER": ""}, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=STS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return Problem(f"AWS credentials: `aws sts get-caller-identity` did not answer within "
                       f"{STS_TIMEOUT_SECONDS} s (no network, or a credential process waiting for input)",
                       SET_CREDENTIALS)
    except OSError as exc:
        return Problem(f"AWS credentials: could not run `{aws}` ({exc})", INSTALL_AWS)
    if result.returncode == 0:
        return None
    reason = next((ln.strip() for ln in reversed((result.stderr or "").splitlines()) if ln.strip()), "no output")
    return Problem(f"AWS credentials missing or not valid (`aws sts get-caller-identity` failed: {reason})",
                   SET_CREDENTIALS)


def passphrase_problem(env: Mapping[str, str], project_dir: Path) -> Problem | None:
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return None
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        file = Path(os.path.expanduser(path))
        if not file.is_absolute():
            file = project_dir / file
        if file.is_file():
            return None
        return Problem(f"PULUMI_CONFIG_PASSPHRASE_FILE is set to {path}, but there is no such file",
                       "create it or point the variable at the right file; " + SET_PASSPHRASE)
    return Problem("Pulumi secrets passphrase not set (neither PULUMI_CONFIG_PASSPHRASE nor "
                   "PULUMI_CONFIG_PASSPHRASE_FILE)", SET_PASSPHRASE)


def prerequisite_problems(command: str, info: StackInfo, project_dir: Path, env: Mapping[str, str],
                          version: Sequence[int] | None = None) -> list[Problem]:
    """Everything `command` needs for this stack that is missing, in one list."""
    problems: list[Problem] = []
    py = python_problem(current_python() if version is None else version, sys.executable)
    if py is not None:
        problems.append(py)
    if which("pulumi", env) is None:
        problems.append(Problem("Pulumi CLI (`pulumi`) not found on PATH", INSTALL_PULUMI))
    aws = which("aws", env)
    if aws is None:
        problems.append(Problem(
            "AWS CLI (`aws`) not found on PATH; the cluster's kubeconfig runs `aws eks get-token`, and it is how "
            "your AWS credentials are checked", INSTALL_AWS))
    if which("kubectl", env) is None:
        if command == "verify":
            problems.append(Problem("kubectl not found on PATH; `verify` inspects the cluster with it",
                                    INSTALL_KUBECTL))
        elif info.aws_node_mode == "delete" and command in ("preview", "up", "destroy", "doctor"):
            problems.append(Problem(
                f"kubectl not found on PATH; stack '{info.stack}' sets awsNodeMode: delete, which runs "
                "`kubectl delete daemonset aws-node` during `pulumi up`", INSTALL_KUBECTL))
    if aws is not None:
        creds = credentials_problem(aws, info.region, env)
        if creds is not None:
            problems.append(creds)
    if not resolve_backend(project_dir, env).is_cloud:
        pp = passphrase_problem(env, project_dir)
        if pp is not None:
            problems.append(pp)
    return problems


def current_python() -> tuple[int, int, int]:
    return (sys.version_info.major, sys.version_info.minor, sys.version_info.micro)
