"""The stack commands: offline plan, doctor, Pulumi preview/up/destroy, verify, list.

Each checks every prerequisite first and reports all missing ones together; nothing runs
until they are met (exit 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .backend import pulumi_env, resolve_backend
from .preflight import preflight
from .prerequisites import Problem, prerequisite_problems, which
from .stacks import StackInfo, all_stacks

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PREREQUISITES = 3

POLICY_DIR_NAME = "policies"


class Out:
    def info(self, msg: str) -> None:
        print(msg, flush=True)

    def err(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)


def report_problems(out: Out, doing: str, problems: Sequence[Problem]) -> None:
    lines = [f"stack.py: cannot {doing}: {len(problems)} prerequisite(s) missing; nothing was run."]
    for i, problem in enumerate(problems, 1):
        lines.append(f"  {i}. {problem.what}.\n     Fix: {problem.fix}.")
    lines.append("Fix them and run the same command again. `make plan STACK=<stack>` needs none of them.")
    out.err("\n".join(lines))


def _run(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], out: Out) -> int:
    out.info("+ " + " ".join(cmd))
    try:
        return subprocess.run(list(cmd), cwd=cwd, env=dict(env)).returncode
    except OSError as exc:
        out.err(f"stack.py: could not run {cmd[0]}: {exc}")
        return EXIT_FAILED


def run_module(module: str, args: Sequence[str], project_dir: Path, env: Mapping[str, str]) -> int:
    """``python -m <module>`` of the checkout, with this (the project's) interpreter."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=project_dir, env=dict(env)).returncode


def with_venv_tools(project_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Pulumi runs `uv sync` (Pulumi.yaml's `toolchain: uv`): the project's pinned uv comes first on PATH."""
    out = dict(env)
    venv_bin = project_dir / ".venv" / "bin"
    if (venv_bin / "uv").exists():
        out["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    return out


def checked(command: str, info: StackInfo, project_dir: Path, env: Mapping[str, str], out: Out) -> list[Problem]:
    """Every prerequisite of ``command``, then (once the tools are there) the preflight: the
    stack's blocking config problems and whether its API will answer this machine."""
    problems = prerequisite_problems(command, info, project_dir, env)
    if command in ("preview", "up", "doctor", "destroy"):
        found, notes = preflight(command, info.stack, project_dir, env)
        problems += found
        for note in notes:
            out.info(f"preflight: {note}")
    return problems


def cmd_pulumi(command: str, info: StackInfo, extra: Sequence[str], project_dir: Path,
               env: Mapping[str, str], out: Out) -> int:
    problems = checked(command, info, project_dir, env, out)
    if problems:
        report_problems(out, f"run `{command}` for stack '{info.stack}'", problems)
        return EXIT_PREREQUISITES
    penv, backend = pulumi_env(project_dir, env)
    penv = with_venv_tools(project_dir, penv)
    where = (f"from {backend.source}" if backend.source != "default"
             else "local, in the project; set PULUMI_BACKEND_URL to use another")
    out.info(f"State backend: {backend.url} ({where})")
    pulumi = which("pulumi", env) or "pulumi"
    select = [pulumi, "stack", "select", "--create", info.stack, "--non-interactive"]
    if not backend.is_cloud:
        select[4:4] = ["--secrets-provider", "passphrase"]
    if _run(select, project_dir, penv, out) != 0:
        out.err(f"stack.py: could not select or create stack '{info.stack}' on {backend.url}.")
        return EXIT_FAILED
    args = [pulumi, command, "--stack", info.stack]
    policy_dir = project_dir / POLICY_DIR_NAME
    if command in ("preview", "up") and (policy_dir / "PulumiPolicy.yaml").is_file():
        if _run([pulumi, "install"], policy_dir, penv, out) != 0:
            out.err(f"stack.py: `pulumi install` failed in {policy_dir} (the policy pack's dependencies).")
            return EXIT_FAILED
        args += ["--policy-pack", str(policy_dir)]
    code = _run([*args, *extra], project_dir, penv, out)
    if code != 0:
        out.err(f"stack.py: `pulumi {command}` for stack '{info.stack}' failed (exit {code}).")
        return EXIT_FAILED
    return EXIT_OK


def cmd_verify(info: StackInfo, extra: Sequence[str], project_dir: Path, env: Mapping[str, str], out: Out) -> int:
    problems = prerequisite_problems("verify", info, project_dir, env)
    if problems:
        report_problems(out, f"verify stack '{info.stack}'", problems)
        return EXIT_PREREQUISITES
    penv, _ = pulumi_env(project_dir, env)
    return run_module("tooling.verify", ["--stack", info.stack, *extra], project_dir, penv)


def cmd_doctor(info: StackInfo, project_dir: Path, env: Mapping[str, str], out: Out) -> int:
    problems = checked("doctor", info, project_dir, env, out)
    if problems:
        report_problems(out, f"deploy stack '{info.stack}' yet", problems)
        return EXIT_PREREQUISITES
    backend = resolve_backend(project_dir, env)
    out.info(f"Everything `make preview/up/destroy STACK={info.stack}` needs is in place "
             f"(state backend: {backend.url}).")
    return EXIT_OK


def cmd_list(project_dir: Path, as_json: bool, select: str, out: Out) -> int:
    infos = all_stacks(project_dir, select)
    if as_json:
        out.info(json.dumps([i.ci_entry() for i in infos], separators=(",", ":")))
    else:
        for i in infos:
            out.info(i.stack)
    return EXIT_OK
