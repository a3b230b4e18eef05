#!/usr/bin/env python3
"""The project's entry point for a stack: offline plan, Pulumi preview/up/destroy, verify.

    python3 scripts/stack.py install                      # .venv + requirements-dev.txt (`make install`)
    python3 scripts/stack.py plan    --stack dev [--format text|mermaid|json] [--output PATH]
    python3 scripts/stack.py doctor  --stack dev          # what a real deployment still needs
    python3 scripts/stack.py preview --stack dev [pulumi flags...]
    python3 scripts/stack.py up      --stack dev [pulumi flags, e.g. --yes]
    python3 scripts/stack.py destroy --stack dev [pulumi flags]
    python3 scripts/stack.py verify  --stack dev [verify flags]
    python3 scripts/stack.py list [--json] [--select all|production|non-production]

`plan` needs neither AWS nor the Pulumi CLI: it runs ``python -m tooling.plan`` in the
project's virtual environment. The other commands first check every prerequisite (Pulumi CLI,
AWS CLI, kubectl where needed, AWS credentials, a secrets passphrase) and report all missing
ones together, with how to fix each, before anything runs.

State: unless PULUMI_BACKEND_URL is set (or Pulumi.yaml names a `backend.url`), the state lives
in the project, in `.pulumi-state/` (a file:// backend, ignored by git), and stack secrets are
encrypted with a passphrase (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE). No
Pulumi Cloud account is needed. Stacks are created on first use (`pulumi stack select --create`).

Standard library only: it runs before the virtual environment exists, and creates it.

Exit codes: 0 ok; 1 the command failed; 2 usage error or unknown stack (or bad config, from
plan); 3 a prerequisite is missing (nothing was run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
STATE_DIR_NAME = ".pulumi-state"
POLICY_DIR_NAME = "policies"
STS_TIMEOUT_SECONDS = 10

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PREREQUISITES = 3

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

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


class UsageError(Exception):
    """Bad arguments or an unknown stack (exit 2)."""


@dataclass(frozen=True)
class Problem:
    """A missing prerequisite: what is missing and exactly how to fix it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


# --------------------------------------------------------------------------------------
# Project and stack files (read without PyYAML: this runs before the venv exists)
# --------------------------------------------------------------------------------------


def project_name(project_dir: Path) -> str:
    text = (project_dir / "Pulumi.yaml").read_text(encoding="utf-8")
    match = re.search(r"^name:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    if match is None:
        raise UsageError(f"{project_dir / 'Pulumi.yaml'} has no `name:`")
    return match.group(1)


def project_backend_url(project_dir: Path) -> str | None:
    """`backend.url` of Pulumi.yaml, if the team pinned one there."""
    text = (project_dir / "Pulumi.yaml").read_text(encoding="utf-8")
    match = re.search(r"^backend:[ \t]*\n(?:[ \t]+#.*\n)*[ \t]+url:[ \t]*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    return match.group(1) if match else None


def stack_files(project_dir: Path) -> dict[str, Path]:
    """Every stack file of the project, by stack name (as tooling.stackfiles.stack_files)."""
    return {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted(project_dir.glob("Pulumi.*.yaml"))}


_CONFIG_SCALAR = re.compile(
    r"""^[ \t]+(?P<key>[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+):[ \t]*
        (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<plain>[^#\s][^#]*?))?[ \t]*(?:\#.*)?$""",
    re.VERBOSE,
)


def stack_settings(path: Path) -> dict[str, str]:
    """The namespaced scalar config values of a stack file (`aws:region`, `<project>:awsNodeMode`, ...).
    Object and list values are left out: only scalars are needed here."""
    out: dict[str, str] = {}
    in_config = False
    indent: int | None = None  # of the keys directly under `config:`; deeper lines are nested values
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            in_config = line.split("#", 1)[0].strip() == "config:"
            continue
        if not in_config:
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        if depth != indent:
            continue
        match = _CONFIG_SCALAR.match(line)
        if match is None:
            continue
        value = match.group("dq")
        if value is None:
            value = match.group("sq")
        if value is None:
            value = match.group("plain")
        if value is not None:
            out[match.group("key")] = value.strip()
    return out


@dataclass(frozen=True)
class StackInfo:
    stack: str
    region: str
    environment: str
    aws_node_mode: str

    @property
    def production(self) -> bool:
        return self.environment == "production"


def stack_info(project_dir: Path, stack: str) -> StackInfo:
    files = stack_files(project_dir)
    if stack not in files:
        known = ", ".join(files) or "none"
        raise UsageError(f"unknown stack '{stack}': there is no Pulumi.{stack}.yaml in {project_dir} "
                         f"(stacks: {known}). Use --stack with one of them.")
    if not STACK_NAME.match(stack):
        raise UsageError(f"stack name '{stack}' (from Pulumi.{stack}.yaml) is not a valid Pulumi stack name: "
                         "use letters, digits, '.', '-' and '_'")
    settings = stack_settings(files[stack])
    project = project_name(project_dir)
    return StackInfo(
        stack=stack,
        region=settings.get("aws:region", ""),
        # Pulumi.yaml's defaults for these keys
        environment=settings.get(f"{project}:environment", "development"),
        aws_node_mode=settings.get(f"{project}:awsNodeMode", "patch"),
    )


def all_stacks(project_dir: Path, select: str = "all") -> list[StackInfo]:
    infos = [stack_info(project_dir, name) for name in stack_files(project_dir)]
    if select == "production":
        return [i for i in infos if i.production]
    if select == "non-production":
        return [i for i in infos if not i.production]
    return infos


# --------------------------------------------------------------------------------------
# Python and the virtual environment
# --------------------------------------------------------------------------------------


def current_python() -> tuple[int, int, int]:
    return (sys.version_info.major, sys.version_info.minor, sys.version_info.micro)


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


def venv_module_problem(has_module: Mapping[str, bool]) -> Problem | None:
    missing = [m for m in ("venv", "ensurepip") if not has_module.get(m, False)]
    if not missing:
        return None
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return Problem(
        f"this Python cannot create a virtual environment (module {' and '.join(missing)} missing)",
        f"install it: Debian/Ubuntu `sudo apt-get install python{minor}-venv`, Fedora `sudo dnf install python3`; "
        f"or run with another Python: `make test PYTHON=/path/to/python3`",
    )


def _has_modules() -> dict[str, bool]:
    import importlib.util

    return {m: importlib.util.find_spec(m) is not None for m in ("venv", "ensurepip")}


def venv_python(project_dir: Path) -> Path:
    posix = project_dir / ".venv" / "bin" / "python"
    windows = project_dir / ".venv" / "Scripts" / "python.exe"
    return windows if not posix.exists() and windows.exists() else posix


def _requirement_lines(path: Path, seen: set[Path] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    if path in seen:
        return []
    seen.add(path)
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += _requirement_lines(path.parent / line.split(None, 1)[1].strip(), seen)
        elif not line.startswith("-"):
            lines.append(line)
    return lines


def requirements_satisfied(requirements: Path) -> bool:
    """True when the running interpreter has every requirement of the file (recursively), at a
    version in range. Runs inside the venv; uses `packaging` (installed with pip) if it can."""
    from importlib import metadata

    try:
        from packaging.requirements import Requirement
    except ImportError:
        try:
            from pip._vendor.packaging.requirements import Requirement
        except ImportError:
            return False
    for line in _requirement_lines(requirements):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return False
        if not req.specifier.contains(installed, prereleases=True):
            return False
    return True


def ensure_venv(project_dir: Path, out: _Out) -> int:
    """Create .venv and install requirements-dev.txt unless it already satisfies them."""
    requirements = project_dir / "requirements-dev.txt"
    py = venv_python(project_dir)
    if py.exists():
        try:
            check = subprocess.run([str(py), str(Path(__file__).resolve()), "_venv-status", str(requirements)],
                                   cwd=project_dir, capture_output=True, text=True)
        except OSError as exc:
            out.err(f"stack.py: the virtual environment's Python ({py}) does not run ({exc}). "
                    "Remove .venv (`rm -rf .venv`) and run `make install` again.")
            return EXIT_PREREQUISITES
        if check.returncode == 0:
            return EXIT_OK
        if check.returncode == EXIT_PREREQUISITES:
            out.err(f"stack.py: {project_dir / '.venv'} was made with {check.stdout.strip() or 'a broken Python'}; "
                    f"this project needs Python {'.'.join(map(str, MIN_PYTHON))}+. Remove it (`rm -rf .venv`) "
                    "and run `make install` with a newer Python.")
            return EXIT_PREREQUISITES
        if check.returncode not in (0, 1):
            out.err(f"stack.py: the virtual environment's Python ({py}) does not run "
                    f"({(check.stderr or '').strip().splitlines()[-1:] or 'no output'}). "
                    "Remove .venv (`rm -rf .venv`) and run `make install` again.")
            return EXIT_PREREQUISITES
    else:
        problems = [p for p in (python_problem(current_python(), sys.executable),
                                venv_module_problem(_has_modules())) if p is not None]
        if problems:
            report_problems(out, "create the virtual environment", problems)
            return EXIT_PREREQUISITES
        out.info(f"Creating {project_dir / '.venv'} with {sys.executable} ...")
        created = subprocess.run([sys.executable, "-m", "venv", str(project_dir / ".venv")], cwd=project_dir)
        if created.returncode != 0:
            out.err("stack.py: `python -m venv .venv` failed (see above).")
            return EXIT_FAILED
        py = venv_python(project_dir)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=project_dir)
    out.info(f"Installing {requirements.name} into .venv ...")
    installed = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
                               cwd=project_dir)
    if installed.returncode != 0:
        out.err(f"stack.py: `pip install -r {requirements.name}` failed (see above); it needs access to PyPI.")
        return EXIT_FAILED
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Prerequisites of a real deployment
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


class _Out:
    def info(self, msg: str) -> None:
        print(msg, flush=True)

    def err(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)


def report_problems(out: _Out, doing: str, problems: Sequence[Problem]) -> None:
    lines = [f"stack.py: cannot {doing}: {len(problems)} prerequisite(s) missing; nothing was run."]
    for i, problem in enumerate(problems, 1):
        lines.append(f"  {i}. {problem.what}.\n     Fix: {problem.fix}.")
    lines.append("Fix them and run the same command again. `make plan STACK=<stack>` needs none of them.")
    out.err("\n".join(lines))


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def pulumi_env(project_dir: Path, env: Mapping[str, str]) -> tuple[dict[str, str], Backend]:
    """The environment for the Pulumi CLI: the local file backend unless the user chose one."""
    backend = resolve_backend(project_dir, env)
    out = dict(env)
    if backend.source == "default":
        (project_dir / STATE_DIR_NAME).mkdir(exist_ok=True)
        out["PULUMI_BACKEND_URL"] = backend.url
    return out, backend


def _run(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], out: _Out) -> int:
    out.info("+ " + " ".join(cmd))
    try:
        return subprocess.run(list(cmd), cwd=cwd, env=dict(env)).returncode
    except OSError as exc:
        out.err(f"stack.py: could not run {cmd[0]}: {exc}")
        return EXIT_FAILED


def _module_present(project_dir: Path, module: str) -> bool:
    base = project_dir.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()


def run_module(module: str, args: Sequence[str], project_dir: Path, env: Mapping[str, str], out: _Out) -> int:
    if not _module_present(project_dir, module):
        out.err(f"stack.py: {module} is not in this checkout yet ({module.replace('.', '/')}.py); update it.")
        return EXIT_FAILED
    code = ensure_venv(project_dir, out)
    if code != EXIT_OK:
        return code
    return subprocess.run([str(venv_python(project_dir)), "-m", module, *args], cwd=project_dir,
                          env=dict(env)).returncode


def cmd_pulumi(command: str, info: StackInfo, extra: Sequence[str], project_dir: Path,
               env: Mapping[str, str], out: _Out) -> int:
    problems = prerequisite_problems(command, info, project_dir, env)
    if problems:
        report_problems(out, f"run `{command}` for stack '{info.stack}'", problems)
        return EXIT_PREREQUISITES
    code = ensure_venv(project_dir, out)
    if code != EXIT_OK:
        return code
    penv, backend = pulumi_env(project_dir, env)
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


def cmd_verify(info: StackInfo, extra: Sequence[str], project_dir: Path, env: Mapping[str, str], out: _Out) -> int:
    problems = prerequisite_problems("verify", info, project_dir, env)
    if problems:
        report_problems(out, f"verify stack '{info.stack}'", problems)
        return EXIT_PREREQUISITES
    penv, _ = pulumi_env(project_dir, env)
    return run_module("tooling.verify", ["--stack", info.stack, *extra], project_dir, penv, out)


def cmd_doctor(info: StackInfo, project_dir: Path, env: Mapping[str, str], out: _Out) -> int:
    problems = prerequisite_problems("doctor", info, project_dir, env)
    if problems:
        report_problems(out, f"deploy stack '{info.stack}' yet", problems)
        return EXIT_PREREQUISITES
    backend = resolve_backend(project_dir, env)
    out.info(f"Everything `make preview/up/destroy STACK={info.stack}` needs is in place "
             f"(state backend: {backend.url}).")
    return EXIT_OK


def cmd_list(project_dir: Path, as_json: bool, select: str, out: _Out) -> int:
    infos = all_stacks(project_dir, select)
    if as_json:
        out.info(json.dumps([{"stack": i.stack, "region": i.region, "environment": i.environment}
                             for i in infos], separators=(",", ":")))
    else:
        for i in infos:
            out.info(i.stack)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stack.py", allow_abbrev=False,
                                     description="Plan, preview, deploy and verify a stack of this project.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="create .venv and install requirements-dev.txt")
    for name, text in (("plan", "offline plan (no AWS, no Pulumi CLI)"),
                       ("doctor", "check what a real deployment still needs"),
                       ("preview", "pulumi preview"), ("up", "pulumi up"), ("destroy", "pulumi destroy"),
                       ("verify", "check the running cluster")):
        p = sub.add_parser(name, help=text, allow_abbrev=False)
        p.add_argument("--stack", "-s", required=True, help="stack name: Pulumi.<stack>.yaml must exist")
    lst = sub.add_parser("list", help="the committed stacks", allow_abbrev=False)
    lst.add_argument("--json", action="store_true", help="a JSON list of {stack, region, environment}")
    lst.add_argument("--select", choices=("all", "production", "non-production"), default="all")
    venv_status = sub.add_parser("_venv-status")  # internal: run by the venv's Python
    venv_status.add_argument("requirements")
    return parser


def main(argv: Sequence[str] | None = None, *, env: MutableMapping[str, str] | None = None,
         project_dir: Path = PROJECT_DIR) -> int:
    env = dict(os.environ if env is None else env)
    out = _Out()
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        if extra and args.command not in ("plan", "preview", "up", "destroy", "verify"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse already printed the usage
        return EXIT_USAGE if exc.code else EXIT_OK
    command: str = args.command
    try:
        if command == "_venv-status":
            if python_problem(current_python(), sys.executable) is not None:
                print(f"Python {sys.version.split()[0]}")
                return EXIT_PREREQUISITES
            return EXIT_OK if requirements_satisfied(Path(args.requirements)) else EXIT_FAILED
        if command == "install":
            return ensure_venv(project_dir, out)
        if command == "list":
            return cmd_list(project_dir, args.json, args.select, out)
        info = stack_info(project_dir, args.stack)
        if command == "plan":
            return run_module("tooling.plan", ["--stack", info.stack, *extra], project_dir, env, out)
        if command == "doctor":
            return cmd_doctor(info, project_dir, env, out)
        if command == "verify":
            return cmd_verify(info, extra, project_dir, env, out)
        return cmd_pulumi(command, info, extra, project_dir, env, out)
    except UsageError as exc:
        out.err(f"stack.py: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
