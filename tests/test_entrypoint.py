"""The README's commands, as far as they run here: scripts/stack.py (the bootstrap behind every
`make` target: Python check, pinned uv, `.venv` synced to uv.lock), the stack CLI it hands over to
(`python -m tooling.cli`: prerequisite checks, state backend and passphrase handling, the offline
plan, list), the requirement files exported from uv.lock, and `.ci/run` running exactly the
README's test command.

Missing tools are simulated with a PATH holding only stub executables in tmp_path; nothing here
reaches AWS, Pulumi Cloud or the network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from cilium_eks.config import parse_config
from tooling import requirements
from tooling.cli import preflight, prerequisites
from tooling.cli.__main__ import main as cli_main
from tooling.paths import PROJECT_DIR
from tooling.stackfiles import stack_files

STACK_PY = PROJECT_DIR / "scripts" / "stack.py"
EXIT_PREREQUISITES = 3


def load_stack_module() -> ModuleType:
    """scripts/stack.py as a module (scripts/ is not a package)."""
    name = "cilium_eks_stack_bootstrap"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, STACK_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sp = load_stack_module()


# --------------------------------------------------------------------------------------
# README helpers (also used by test_workflows)
# --------------------------------------------------------------------------------------


def readme_commands(text: str) -> list[str]:
    """Command lines of the README's shell code blocks, in order, without prompts and comments."""
    commands: list[str] = []
    lang: str | None = None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            lang = line.strip()[3:].strip().lower() if lang is None else None
            continue
        if lang in ("sh", "bash", "shell", "console", "shell-session"):
            cmd = line.strip()
            cmd = cmd[2:] if cmd.startswith("$ ") else cmd
            cmd = re.split(r"\s+#", cmd, maxsplit=1)[0].strip()
            if cmd and not cmd.startswith("#"):
                commands.append(cmd)
    return commands


def readme_test_command() -> str:
    readme = PROJECT_DIR / "README.md"
    if not readme.is_file():
        pytest.fail("README.md is missing: it must open with a ```sh block whose first command is the test "
                    "command (`make test`) and whose second runs the main job (`make plan STACK=dev`)")
    commands = readme_commands(readme.read_text(encoding="utf-8"))
    if not commands:
        pytest.fail("README.md has no ```sh block: its first command must be the test command (`make test`)")
    return commands[0]


def makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in (PROJECT_DIR / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\- ]+):(?!=)", line)
        if match and not line.startswith((".PHONY", "\t")):
            targets.update(match.group(1).split())
    return targets


# --------------------------------------------------------------------------------------
# Stub tools and a throw-away copy of the project
# --------------------------------------------------------------------------------------


def _write_exe(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Tools:
    """A bin directory of stubs. Each stub appends one line per call to `log`:
    `<tool> <args> | backend=<PULUMI_BACKEND_URL> | cwd=<dir>`."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.log"

    def add(self, tool: str, exit_code: int = 0, stderr: str = "", stdout: str = "",
            fail_on: str | None = None) -> Tools:
        body = (f'printf "%s\\n" "{tool} $* | backend=$PULUMI_BACKEND_URL | cwd=$(pwd)" >> "{self.log}"\n')
        if fail_on is not None:
            body += f'case "$1" in {fail_on}) echo "{tool} {fail_on} failed" >&2; exit 1;; esac\n'
        if stdout:
            body += f"printf '%s\\n' '{stdout}'\n"
        if stderr:
            body += f"printf '%s\\n' '{stderr}' >&2\n"
        body += f"exit {exit_code}\n"
        _write_exe(self.bin / tool, body)
        return self

    def all_ok(self) -> Tools:
        return (self.add("pulumi").add("aws", stdout='{"Account": "123456789012"}').add("kubectl"))

    def calls(self, tool: str | None = None) -> list[str]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [ln for ln in lines if tool is None or ln.startswith(tool + " ")]


@pytest.fixture
def tools(tmp_path: Path) -> Tools:
    return Tools(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away project: the project file and the stack files."""
    proj = tmp_path / "project"
    proj.mkdir()
    for name in ["Pulumi.yaml", *[p.name for p in stack_files().values()]]:
        shutil.copy(PROJECT_DIR / name, proj / name)
    return proj


#: This machine's egress address as the preflight sees it (never looked up from a test).
EGRESS = "34.240.11.7"


def base_env(tools: Tools, **extra: str) -> dict[str, str]:
    """Only the stubs on PATH; no AWS or Pulumi settings from the developer's shell; an egress
    address dev's 0.0.0.0/0 admits."""
    return {"PATH": str(tools.bin), "HOME": str(tools.bin.parent), "CILIUM_EKS_EGRESS_IP": EGRESS, **extra}


def with_api_cidrs(project: Path, stack: str, cidrs: list[str]) -> None:
    """Replace a stack's publicAccessCidrs (prod ships a documentation-range placeholder)."""
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["cilium-eks:publicAccessCidrs"] = cidrs
    path.write_text(yaml.safe_dump(doc))


def run_main(argv: list[str], env: dict[str, str], project_dir: Path,
             capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli_main(argv, env=env, project_dir=project_dir)
    out, err = capfd.readouterr()
    return code, out + err


# --------------------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------------------


def test_every_missing_prerequisite_is_reported_at_once_with_how_to_fix_it(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, output = run_main(["preview", "--stack", "dev"], base_env(tools), project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert "3 prerequisite(s) missing" in output
    assert "Pulumi CLI (`pulumi`) not found" in output and "https://get.pulumi.com" in output
    assert "AWS CLI (`aws`) not found" in output and "getting-started-install" in output
    assert "PULUMI_CONFIG_PASSPHRASE" in output and "export PULUMI_CONFIG_PASSPHRASE_FILE=" in output
    # dev uses awsNodeMode: patch, so kubectl is not a prerequisite of its preview
    assert "kubectl not found" not in output
    assert "Traceback" not in output
    assert not (project / ".pulumi-state").exists(), "nothing may run before the prerequisites are met"


def test_missing_aws_credentials_are_reported_with_how_to_sign_in(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.add("pulumi").add("aws", exit_code=255, stderr="Unable to locate credentials. You can configure "
                                                        "credentials by running aws configure.")
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="test")
    code, output = run_main(["up", "--stack", "dev"], env, project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert "1 prerequisite(s) missing" in output
    assert "AWS credentials missing or not valid" in output and "Unable to locate credentials" in output
    assert "aws sso login" in output and "AWS_ACCESS_KEY_ID" in output
    # the check is `aws sts get-caller-identity` in the stack's region; pulumi never ran
    assert tools.calls("aws") and "sts get-caller-identity" in tools.calls("aws")[0]
    assert "--region eu-west-1" in tools.calls("aws")[0]
    assert tools.calls("pulumi") == []


def test_kubectl_is_a_prerequisite_only_with_aws_node_delete(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.add("pulumi").add("aws", stdout="{}")
    text = (project / "Pulumi.dev.yaml").read_text().replace("awsNodeMode: patch", "awsNodeMode: delete")
    (project / "Pulumi.recipe.yaml").write_text(text)
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="test")

    code, output = run_main(["up", "--stack", "recipe"], env, project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert "kubectl not found" in output and "awsNodeMode: delete" in output
    assert "kubernetes.io/docs/tasks/tools" in output

    code, output = run_main(["preview", "--stack", "dev"], env, project, capfd)
    assert code == 0, output
    assert "kubectl not found" not in output


def test_verify_needs_kubectl_and_delegates_to_tooling_verify(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.add("pulumi").add("aws", stdout="{}")
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="test")
    code, output = run_main(["verify", "--stack", "dev"], env, project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert "kubectl not found" in output and "verify" in output

    tools.add("kubectl")
    pkg = project / "tooling"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "verify.py").write_text(
        "import os, sys\n"
        "print('verify argv', sys.argv[1:], 'backend', os.environ.get('PULUMI_BACKEND_URL'))\n"
        "sys.exit(4)\n")
    code, output = run_main(["verify", "--stack", "dev", "--timeout", "60"], env, project, capfd)
    assert code == 4, "verify's exit code is passed through"
    assert f"verify argv ['--stack', 'dev', '--timeout', '60'] backend file://{project}/.pulumi-state" in output


def test_doctor_says_when_everything_is_in_place(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    with_api_cidrs(project, "prod", [f"{EGRESS}/32"])
    code, output = run_main(["doctor", "--stack", "prod"], base_env(tools, PULUMI_CONFIG_PASSPHRASE="x"),
                            project, capfd)
    assert code == 0, output
    assert "Everything" in output and f"file://{project}/.pulumi-state" in output
    assert tools.calls("pulumi") == [], "doctor only checks"


# --------------------------------------------------------------------------------------
# Preflight: the stack's API must answer this machine before anything is created
# --------------------------------------------------------------------------------------


def test_up_of_production_refuses_a_documentation_range_and_preview_only_warns(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="x", CILIUM_EKS_EGRESS_IP="203.0.113.9")
    code, output = run_main(["up", "--stack", "prod"], env, project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert "cilium-eks:publicAccessCidrs: 203.0.113.0/24 is a documentation range (RFC 5737)" in output
    assert tools.calls("pulumi") == [], "nothing runs before the preflight passes"
    code, output = run_main(["preview", "--stack", "prod"], env, project, capfd)
    assert code == 0, output
    assert "preflight: config: cilium-eks:publicAccessCidrs: 203.0.113.0/24 is a documentation range" in output


def test_an_api_that_would_not_answer_this_machine_stops_up_with_the_fix(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    with_api_cidrs(project, "prod", ["52.95.77.0/24"])
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="x")
    code, output = run_main(["up", "--stack", "prod"], env, project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert f"its egress address {EGRESS} is not in publicAccessCidrs (52.95.77.0/24)" in output
    assert f"'publicAccessCidrs[1]' {EGRESS}/32 --stack prod" in output and "deployRunner" in output
    assert tools.calls("pulumi") == []
    with_api_cidrs(project, "prod", ["52.95.77.0/24", f"{EGRESS}/32"])
    code, output = run_main(["up", "--stack", "prod"], env, project, capfd)
    assert code == 0, output


def test_the_preflight_decides_from_the_endpoints_and_the_vpc() -> None:
    raw = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    raw["cilium-eks:publicAccessCidrs"] = ["52.95.77.0/24"]
    cfg = parse_config(raw, project="cilium-eks", stack="prod", region="eu-west-1")
    assert preflight.api_problem(cfg, "52.95.77.10", None)[0] is None
    # prod's VPC is 10.20.0.0/16 and its private endpoint is on: a runner inside it is fine.
    assert preflight.api_problem(cfg, "203.0.113.50", "10.20.64.9")[0] is None
    problem, _ = preflight.api_problem(cfg, "203.0.113.50", "10.99.0.5")
    assert problem is not None and "it is not inside the VPC (10.99.0.5)" in problem.what
    # Without an egress address (no network here), nothing can be decided: a note, not a refusal.
    problem, note = preflight.api_problem(cfg, None, "10.99.0.5")
    assert problem is None and "CILIUM_EKS_EGRESS_IP" in note


# --------------------------------------------------------------------------------------
# State backend, passphrase, stack creation
# --------------------------------------------------------------------------------------


def test_default_is_a_local_file_backend_with_a_passphrase_and_stack_creation_is_idempotent(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE="correct horse")
    for _ in range(2):
        code, output = run_main(["preview", "--stack", "dev", "--diff"], env, project, capfd)
        assert code == 0, output
    state = project / ".pulumi-state"
    assert state.is_dir()
    calls = tools.calls("pulumi")
    backend = f"backend=file://{state}"
    assert calls == [
        f"pulumi stack select --create --secrets-provider passphrase dev --non-interactive | {backend} | cwd={project}",
        f"pulumi preview --stack dev --diff | {backend} | cwd={project}",
    ] * 2


def test_the_policy_pack_runs_with_preview_and_up_once_it_exists(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    policies = project / "policies"
    policies.mkdir()
    (policies / "PulumiPolicy.yaml").write_text("runtime: python\n")
    env = base_env(tools, PULUMI_CONFIG_PASSPHRASE_FILE=str(tools.bin.parent / "pass"))
    (tools.bin.parent / "pass").write_text("secret\n")
    with_api_cidrs(project, "prod", [f"{EGRESS}/32"])
    code, output = run_main(["up", "--stack", "prod", "--yes"], env, project, capfd)
    assert code == 0, output
    assert f"preflight: this machine's egress address {EGRESS} is in publicAccessCidrs" in output
    calls = [c.split(" | ")[0] + " @ " + c.split("cwd=")[1] for c in tools.calls("pulumi")]
    assert calls == [
        f"pulumi stack select --create --secrets-provider passphrase prod --non-interactive @ {project}",
        f"pulumi install @ {policies}",
        f"pulumi up --stack prod --policy-pack {policies} --yes @ {project}",
    ]


def test_a_backend_set_by_the_user_is_kept(tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    env = base_env(tools, PULUMI_BACKEND_URL="s3://team-state?region=eu-west-1", PULUMI_CONFIG_PASSPHRASE="x")
    code, output = run_main(["destroy", "--stack", "dev"], env, project, capfd)
    assert code == 0, output
    assert all("backend=s3://team-state?region=eu-west-1 " in c for c in tools.calls("pulumi"))
    assert tools.calls("pulumi")[-1].startswith("pulumi destroy --stack dev |")
    assert not (project / ".pulumi-state").exists()


def test_pulumi_cloud_needs_no_passphrase_and_keeps_its_own_secrets_provider(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    code, output = run_main(["preview", "--stack", "dev"],
                            base_env(tools, PULUMI_BACKEND_URL="https://api.pulumi.com"), project, capfd)
    assert code == 0, output
    assert tools.calls("pulumi")[0].startswith("pulumi stack select --create dev --non-interactive |")


def test_a_backend_pinned_in_pulumi_yaml_is_not_overridden(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    pulumi_yaml = project / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text() + "backend:\n  url: s3://pinned-state\n")
    code, output = run_main(["preview", "--stack", "dev"], base_env(tools, PULUMI_CONFIG_PASSPHRASE="x"),
                            project, capfd)
    assert code == 0, output
    assert "s3://pinned-state (from Pulumi.yaml)" in output
    # PULUMI_BACKEND_URL would win over Pulumi.yaml's backend.url, so it must stay unset
    assert all("| backend= |" in c for c in tools.calls("pulumi"))


def test_a_passphrase_file_that_does_not_exist_is_reported(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.all_ok()
    missing = tools.bin.parent / "no-such.passphrase"
    code, output = run_main(["preview", "--stack", "dev"],
                            base_env(tools, PULUMI_CONFIG_PASSPHRASE_FILE=str(missing)), project, capfd)
    assert code == EXIT_PREREQUISITES, output
    assert f"PULUMI_CONFIG_PASSPHRASE_FILE is set to {missing}, but there is no such file" in output


def test_a_failing_pulumi_command_exits_1(tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tools.add("pulumi", fail_on="preview").add("aws", stdout="{}")
    code, output = run_main(["preview", "--stack", "dev"], base_env(tools, PULUMI_CONFIG_PASSPHRASE="x"),
                            project, capfd)
    assert code == 1
    assert "`pulumi preview` for stack 'dev' failed" in output


def test_an_unknown_stack_is_a_usage_error_naming_the_stacks(
        tools: Tools, project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, output = run_main(["up", "--stack", "staging"], base_env(tools), project, capfd)
    assert code == 2
    assert "unknown stack 'staging'" in output and "stacks: dev, prod" in output
    code, _ = run_main(["up"], base_env(tools), project, capfd)
    assert code == 2, "--stack is required"


# --------------------------------------------------------------------------------------
# The offline path: `make plan STACK=dev` with neither Pulumi nor AWS
# --------------------------------------------------------------------------------------


def test_plan_runs_offline_without_pulumi_or_aws(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """`make plan` runs `python -m tooling.plan` in .venv with no AWS or Pulumi setting at all."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    output_file = tmp_path / "plan.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    env["PATH"] = str(empty_bin)
    code = cli_main(["plan", "--stack", "dev", "--format", "json", "--output", str(output_file)], env=env)
    out, err = capfd.readouterr()
    assert code == 0, out + err
    plan = json.loads(output_file.read_text())
    assert plan["stack"] == "dev"


def test_plan_passes_bad_usage_through_as_exit_2(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["plan", "--stack", "nope"], env=dict(os.environ))
    assert code == 2
    assert "unknown stack 'nope'" in capfd.readouterr().err


# --------------------------------------------------------------------------------------
# Python and the virtual environment
# --------------------------------------------------------------------------------------


def test_a_python_older_than_3_11_is_refused_with_how_to_get_one() -> None:
    for check in (sp.python_problem, prerequisites.python_problem):
        problem = check((3, 10, 12), "/usr/bin/python3")
        assert problem is not None
        assert "Python 3.11 or newer is needed, /usr/bin/python3 is Python 3.10.12" in str(problem)
        assert "make test PYTHON=python3.12" in str(problem)
        assert check((3, 11, 0), "python3") is None
        assert check((3, 13, 1), "python3") is None


def test_a_python_without_venv_is_refused_with_the_package_to_install() -> None:
    problem = sp.venv_module_problem({"venv": True, "ensurepip": False})
    assert problem is not None
    assert "module ensurepip missing" in problem and "-venv`" in problem
    assert sp.venv_module_problem({"venv": True, "ensurepip": True}) is None


def test_make_refuses_an_old_python_before_anything_runs(tmp_path: Path) -> None:
    old = tmp_path / "python3"
    _write_exe(old, 'if [ "$1" = "-V" ]; then echo "Python 3.9.18"; exit 0; fi\nexit 1\n')
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed here")
    result = subprocess.run([make, "-s", "-C", str(PROJECT_DIR), "install", f"PYTHON={old}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stderr and "Python 3.9.18" in result.stderr


def test_the_bootstrap_uses_the_uv_that_uv_lock_pins() -> None:
    version = sp.locked_uv_version(PROJECT_DIR)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    # The prepared .venv holds exactly that uv, so `make install` downloads nothing here.
    assert sp.uv_version(PROJECT_DIR / ".venv" / "bin" / "uv") == version
    assert sp.find_uv(PROJECT_DIR, version) == PROJECT_DIR / ".venv" / "bin" / "uv"


def fake_bootstrap_project(root: Path, uv_version: str, sync_exit: int = 0) -> Path:
    """A project whose .venv holds a stub uv (logging its arguments) and a stub python."""
    proj = root / "proj"
    (proj / ".venv" / "bin").mkdir(parents=True)
    (proj / "uv.lock").write_text(f'version = 1\n\n[[package]]\nname = "uv"\nversion = "{uv_version}"\n')
    log = root / "calls.log"
    _write_exe(proj / ".venv" / "bin" / "uv",
               f'if [ "$1" = "--version" ]; then echo "uv {uv_version} (stub)"; exit 0; fi\n'
               f'echo "uv $* | env=$UV_PROJECT_ENVIRONMENT | venv=$VIRTUAL_ENV" >> "{log}"\nexit {sync_exit}\n')
    _write_exe(proj / ".venv" / "bin" / "python", f'echo "python $*" >> "{log}"\nexit 5\n')
    return proj


def test_the_bootstrap_syncs_venv_to_the_lock_then_hands_over_to_the_cli(tmp_path: Path) -> None:
    proj = fake_bootstrap_project(tmp_path, "9.9.9")
    code = sp.main(["plan", "--stack", "dev"], env={"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": "/elsewhere"},
                   project_dir=proj)
    assert code == 5, "the CLI's exit code is passed through"
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        f"uv sync --locked --quiet --python {sys.executable} | env={proj / '.venv'} | venv=",
        "python -m tooling.cli plan --stack dev",
    ]
    assert sp.main(["install"], env={"PATH": "/usr/bin:/bin"}, project_dir=proj) == 0
    assert (tmp_path / "calls.log").read_text().splitlines()[-1].startswith("uv sync --locked")


def test_a_lock_that_does_not_match_pyproject_stops_the_bootstrap(tmp_path: Path,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    proj = fake_bootstrap_project(tmp_path, "9.9.9", sync_exit=2)
    assert sp.main(["plan", "--stack", "dev"], env={"PATH": "/usr/bin:/bin"}, project_dir=proj) == 1
    assert "uv lock" in capfd.readouterr().err
    assert not any(ln.startswith("python") for ln in (tmp_path / "calls.log").read_text().splitlines())


def test_the_requirement_files_are_exported_from_the_lock(tmp_path: Path) -> None:
    assert requirements.stale() == [], "run `python -m tooling.requirements` and commit the result"
    pinned = {ln.split("==")[0]: ln.split("==")[1] for ln in (PROJECT_DIR / "policies" / "requirements.txt")
              .read_text().splitlines() if "==" in ln}
    assert {"pulumi", "pulumi-policy"} <= set(pinned), "the pack pins its own SDKs"
    # Negative control: an edited file is reported.
    copy = tmp_path / "p"
    shutil.copytree(PROJECT_DIR, copy, ignore=shutil.ignore_patterns(".venv", ".git", ".cache", "*.egg-info"))
    (copy / "requirements.txt").write_text((copy / "requirements.txt").read_text().replace("pulumi==", "pulumi>="))
    assert requirements.stale(copy) == ["requirements.txt"]


# --------------------------------------------------------------------------------------
# The committed stacks, as the CI matrices list them
# --------------------------------------------------------------------------------------


def test_list_is_exactly_the_committed_stack_files(capfd: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["list", "--json"]) == 0
    listed = json.loads(capfd.readouterr().out)
    assert [s["stack"] for s in listed] == sorted(stack_files())
    for item in listed:
        config = (yaml.safe_load(stack_files()[item["stack"]].read_text()) or {}).get("config") or {}
        assert item["region"] == config.get("aws:region")
        assert item["environment"] == config.get("cilium-eks:environment", "development")
    assert cli_main(["list", "--json", "--select", "production"]) == 0
    prod = json.loads(capfd.readouterr().out)
    assert [s["stack"] for s in prod] == [s["stack"] for s in listed if s["environment"] == "production"]


def test_list_picks_up_a_new_stack_file(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (project / "Pulumi.staging.yaml").write_text("config:\n  aws:region: us-west-2\n")
    assert cli_main(["list", "--json", "--select", "production"], project_dir=project) == 0
    listed = json.loads(capfd.readouterr().out)
    # No `environment` key: strict by default, deployed and previewed through the production environments.
    assert {"stack": "staging", "region": "us-west-2", "environment": "production",
            "deploy_environment": "production", "preview_environment": "production-preview",
            "runner": ["ubuntu-latest"]} in listed


# --------------------------------------------------------------------------------------
# The README's commands and .ci/run
# --------------------------------------------------------------------------------------


def test_ci_run_runs_exactly_the_readme_test_command() -> None:
    test_command = readme_test_command()
    script = (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    runs = [ln.strip() for ln in script.splitlines()
            if ln.strip() and not ln.strip().startswith(("#", "set ", "cd ", "export "))]
    assert runs == [f"exec {test_command}"], (
        f".ci/run must run exactly the README's test command `{test_command}` and nothing else; it runs {runs}")


def test_the_readme_opens_with_the_test_command_then_the_main_job() -> None:
    readme = PROJECT_DIR / "README.md"
    if not readme.is_file():
        pytest.fail("README.md is missing")
    commands = readme_commands(readme.read_text(encoding="utf-8"))
    assert commands[:1] == ["make test"]
    assert len(commands) > 1 and re.fullmatch(r"make plan STACK=\S+", commands[1]), commands[:2]


def test_every_make_command_in_the_readme_exists() -> None:
    readme = PROJECT_DIR / "README.md"
    if not readme.is_file():
        pytest.fail("README.md is missing")
    targets = makefile_targets()
    stacks = set(stack_files())
    for command in readme_commands(readme.read_text(encoding="utf-8")):
        if not command.startswith("make "):
            continue
        words = command.split()[1:]
        for word in words:
            if word.startswith("STACK="):
                assert word.split("=", 1)[1] in stacks, f"README: `{command}` names an unknown stack"
            elif "=" not in word and not word.startswith("-"):
                assert word in targets, f"README: `{command}`: no Makefile target `{word}`"


def test_makefile_has_the_entry_point_targets() -> None:
    assert {"install", "test", "lint", "typecheck", "unit", "plan", "preview", "up", "destroy", "verify",
            "doctor"} <= makefile_targets()
