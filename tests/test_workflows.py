"""The GitHub Actions workflows: valid against the GitHub workflow schema (offline) and clean under
zizmor (offline); every action pinned to a reviewed commit SHA; every committed stack previewed on
pull requests and deployed (then verified) on main, each in its own GitHub environment, on its own
runner (prod deployed only through `production`, previewed only through `production-preview`); the
secrets that decrypt a stack's state only in jobs that name an environment; every path, policy pack,
Make target, stack and `scripts/stack.py` command they name exists; least-privilege permissions.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_entrypoint import makefile_targets, readme_test_command
from tooling.cli.__main__ import build_parser
from tooling.cli.stacks import all_stacks, stack_info
from tooling.paths import PROJECT_DIR
from tooling.stackfiles import stack_files

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
ZIZMOR_CONFIG = PROJECT_DIR / ".github" / "zizmor.yml"
ZIZMOR = PROJECT_DIR / ".venv" / "bin" / "zizmor"

PULUMI_ACTION = "pulumi/actions@"
AWS_ACTION = "aws-actions/configure-aws-credentials@"
CHECKOUT_ACTION = "actions/checkout@"
# Every action the workflows may use: action -> (full commit SHA, the release tag it is). Read from the
# actions' repositories (`git rev-parse <tag>^{commit}`; see the CI research notes). A `uses:` line
# names exactly this SHA and carries the tag as a trailing comment: `uses: <action>@<sha> # <tag>`.
PINNED: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
}
# What decrypts or reaches a stack's state: only in jobs that name a (protected) environment.
STATE_SECRETS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL")
VERIFY_LINE = re.compile(r'^python3 scripts/stack\.py verify --stack "\$\{?(\w+)\}?"$')
INSTALL_LINE = "python3 scripts/stack.py install"
VENV_ON_PATH_LINE = 'echo "$PWD/.venv/bin" >> "$GITHUB_PATH"'


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def parse(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def load(name: str) -> dict[str, Any]:
    return parse((WORKFLOWS / name).read_text(encoding="utf-8"))


def all_workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p.name) for p in workflow_files()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(step: dict[str, Any], prefix: str) -> bool:
    return str(step.get("uses", "")).startswith(prefix)


def run_lines(job: dict[str, Any]) -> list[str]:
    return [ln.strip() for s in steps(job) for ln in str(s.get("run", "")).splitlines() if ln.strip()]


def step_lines(step: dict[str, Any]) -> list[str]:
    return [ln.strip() for ln in str(step.get("run", "")).splitlines() if ln.strip()]


def pulumi_command_step(job: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in steps(job) if uses(s, PULUMI_ACTION) and (s.get("with") or {}).get("command")), None)


def pulumi_jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The jobs that run a Pulumi command (preview, up, ...) through pulumi/actions."""
    return {job_id: job for job_id, job in workflow["jobs"].items() if pulumi_command_step(job) is not None}


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _all_needs(workflow: dict[str, Any], job_id: str) -> set[str]:
    """Every job `job_id` waits for, directly or through others."""
    seen: set[str] = set()
    todo = list(_needs(workflow["jobs"][job_id]))
    while todo:
        need = todo.pop()
        if need not in seen:
            seen.add(need)
            todo.extend(_needs(workflow["jobs"].get(need, {})))
    return seen


# --------------------------------------------------------------------------------------
# Coverage: which stacks a workflow runs a Pulumi command on, in which environment, on which runner
# --------------------------------------------------------------------------------------

_FROM_JSON = re.compile(r"^\$\{\{\s*fromJSON\(needs\.([\w-]+)\.outputs\.([\w-]+)\)\s*\}\}$")
_STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")
_LIST = r'"\$\(python3 scripts/stack\.py list --json(?: --select ([\w-]+))?\)"'
_LIST_INTO_VAR = re.compile(rf"^(\w+)={_LIST}$")
_ECHO_VAR = re.compile(r'^echo "([\w-]+)=\$\{?(\w+)\}?" >> "\$GITHUB_OUTPUT"$')
_ECHO_LIST = re.compile(r'^echo "([\w-]+)=\$\(python3 scripts/stack\.py list --json(?: --select ([\w-]+))?\)"'
                        r' >> "\$GITHUB_OUTPUT"$')
_MATRIX_EXPR = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")


def _listed_by(job: dict[str, Any], output: str, project_dir: Path) -> list[dict[str, Any]] | None:
    """The matrix entries a job's output holds, when a step computes it with `scripts/stack.py list`:
    what `list --json [--select ...]` prints, i.e. each stack's ``ci_entry()``."""
    match = _STEP_OUTPUT.match(str((job.get("outputs") or {}).get(output, "")))
    if match is None:
        return None
    step = next((s for s in steps(job) if s.get("id") == match.group(1)), None)
    if step is None:
        return None
    selections: dict[str, str] = {}  # shell variable -> selection
    for line in step_lines(step):
        into_var = _LIST_INTO_VAR.match(line)
        if into_var:
            selections[into_var.group(1)] = into_var.group(2) or "all"
            continue
        select: str | None = None
        echo_var = _ECHO_VAR.match(line)
        if echo_var and echo_var.group(1) == match.group(2) and echo_var.group(2) in selections:
            select = selections[echo_var.group(2)]
        echo_list = _ECHO_LIST.match(line)
        if echo_list and echo_list.group(1) == match.group(2):
            select = echo_list.group(2) or "all"
        if select is not None:
            return [i.ci_entry() for i in all_stacks(project_dir, select)]
    return None


def matrix_entries(workflow: dict[str, Any], job: dict[str, Any], project_dir: Path) -> list[dict[str, Any]]:
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if isinstance(matrix.get("stack"), list):
        return [{"stack": s} for s in matrix["stack"]]
    include = matrix.get("include")
    if isinstance(include, list):
        return [dict(i) for i in include]
    match = _FROM_JSON.match(str(include or ""))
    if match is None:
        return []
    producer = workflow["jobs"].get(match.group(1))
    if producer is None or match.group(1) not in _needs(job):
        return []
    return _listed_by(producer, match.group(2), project_dir) or []


def resolve(value: Any, entry: dict[str, Any]) -> Any:
    """A job setting for one matrix entry: `${{ matrix.key }}` replaced by the entry's value (a list
    stays a list, as GitHub passes it to `runs-on`)."""
    if not isinstance(value, str):
        return value
    whole = _MATRIX_EXPR.fullmatch(value.strip())
    if whole:
        return entry.get(whole.group(1))
    return _MATRIX_EXPR.sub(lambda m: str(entry.get(m.group(1), "")), value)


@dataclass(frozen=True)
class PulumiRun:
    """One stack a job runs a Pulumi command on, with the environment and runner it gets."""

    job_id: str
    stack: str
    environment: str | None
    runner: Any


def pulumi_runs(workflow: dict[str, Any], command: str, project_dir: Path = PROJECT_DIR) -> list[PulumiRun]:
    runs: list[PulumiRun] = []
    for job_id, job in workflow["jobs"].items():
        step = pulumi_command_step(job)
        if step is None or step["with"].get("command") != command:
            continue
        name = str(step["with"].get("stack-name", ""))
        entries = matrix_entries(workflow, job, project_dir) if "matrix." in name else [{}]
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        for entry in entries:
            env = resolve(environment, entry)
            runs.append(PulumiRun(job_id, str(resolve(name, entry)), None if env is None else str(env),
                                  resolve(job.get("runs-on"), entry)))
    return runs


def stacks_run(workflow: dict[str, Any], command: str, project_dir: Path = PROJECT_DIR) -> set[str]:
    """Every stack some job runs `pulumi <command>` on (pulumi/actions with that `command`)."""
    return {r.stack for r in pulumi_runs(workflow, command, project_dir) if r.stack}


# --------------------------------------------------------------------------------------
# References: paths, policy packs, stacks, Make targets, stack.py commands, local workflows
# --------------------------------------------------------------------------------------


def stack_py_commands() -> set[str]:
    """`install` (the bootstrap's own) and the commands of the CLI it hands over to."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {"install", *sub.choices}


def reference_problems(workflow: dict[str, Any], project_dir: Path = PROJECT_DIR) -> list[str]:
    problems: list[str] = []
    stacks = set(stack_files(project_dir))
    targets = makefile_targets() if project_dir == PROJECT_DIR else set()
    commands = stack_py_commands()

    def need_dir(where: str, value: str, marker: str | None = None) -> None:
        path = project_dir / value
        if not path.is_dir():
            problems.append(f"{where}: directory {value!r} does not exist")
        elif marker is not None and not (path / marker).is_file():
            problems.append(f"{where}: {value!r} has no {marker}")

    for job_id, job in workflow["jobs"].items():
        local = job.get("uses")
        if isinstance(local, str) and local.startswith("./") and not (project_dir / local).is_file():
            problems.append(f"{job_id}: reusable workflow {local!r} does not exist")
        for i, step in enumerate(steps(job)):
            where = f"{job_id}.steps[{i}]"
            with_ = step.get("with") or {}
            if "working-directory" in step:
                need_dir(where, str(step["working-directory"]))
            if uses(step, PULUMI_ACTION):
                need_dir(where + ".work-dir", str(with_.get("work-dir", "./")), "Pulumi.yaml")
                for pack in str(with_.get("policyPacks", "")).split():
                    need_dir(where + ".policyPacks", pack, "PulumiPolicy.yaml")
                name = str(with_.get("stack-name", ""))
                if name and "${{" not in name and name not in stacks:
                    problems.append(f"{where}: stack {name!r} has no Pulumi.{name}.yaml")
            if uses(step, "actions/setup-python@"):
                for dep in str(with_.get("cache-dependency-path", "")).split():
                    if not list(project_dir.glob(dep)):
                        problems.append(f"{where}: cache-dependency-path {dep!r} matches no file")
            if uses(step, "./") and not (project_dir / str(step["uses"])).exists():
                problems.append(f"{where}: local action {step['uses']!r} does not exist")
            for line in step_lines(step):
                for script in re.findall(r"(?<![\w/.-])((?:scripts|\.ci)/[\w./-]+)", line):
                    if not (project_dir / script).is_file():
                        problems.append(f"{where}: {script!r} does not exist")
                for command in re.findall(r"scripts/stack\.py\s+([\w-]+)", line):
                    if command not in commands:
                        problems.append(f"{where}: `scripts/stack.py {command}` is not a command "
                                        f"({', '.join(sorted(commands))})")
                for target in re.findall(r"(?:^|[;&|]\s*)make\s+([\w-]+)", line):
                    if targets and target not in targets:
                        problems.append(f"{where}: no Makefile target {target!r}")
                for flag in re.findall(r"--select\s+([\w-]+)", line):
                    if flag not in ("all", "production", "non-production"):
                        problems.append(f"{where}: `stack.py list --select {flag}` is not a selection")
    return problems


# --------------------------------------------------------------------------------------
# Pins, credentials, secrets
# --------------------------------------------------------------------------------------

_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?P<rest>.*)$")
_SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)(?:/[\w./-]+)?@(?P<sha>[0-9a-f]{40})$")
_VERSION_COMMENT = re.compile(r"^\s+#\s*(?P<version>v\d+\.\d+\.\d+)\s*$")


def pin_problems(text: str, name: str) -> list[str]:
    """Every `uses:` of a workflow's text names a full commit SHA from PINNED with its version as the
    trailing comment; the reusable workflow of this repository (`./...`) is the only exception."""
    problems: list[str] = []
    found = 0
    for number, line in enumerate(text.splitlines(), 1):
        match = _USES_LINE.match(line)
        if match is None:
            continue
        found += 1
        ref = match.group("ref").strip("'\"")
        where = f"{name}:{number}: {ref}"
        if ref.startswith("./"):
            continue
        pin = _SHA_PIN.match(ref)
        if pin is None:
            problems.append(f"{where} is not pinned to a full 40-hex commit SHA")
            continue
        if pin.group("action") not in PINNED:
            problems.append(f"{where}: unreviewed action (add its SHA and version to PINNED)")
            continue
        sha, version = PINNED[pin.group("action")]
        if pin.group("sha") != sha:
            problems.append(f"{where}: expected commit {sha} ({version})")
        comment = _VERSION_COMMENT.match(match.group("rest"))
        if comment is None:
            problems.append(f"{where}: no trailing `# {version}` comment")
        elif comment.group("version") != version:
            problems.append(f"{where}: comment says {comment.group('version')}, the SHA is {version}")
    workflow = parse(text)
    in_yaml = sum(1 for job in workflow["jobs"].values() for s in [job, *steps(job)] if "uses" in s)
    if found != in_yaml:
        problems.append(f"{name}: {in_yaml} `uses:` in the YAML but {found} `uses:` lines (one per line, please)")
    return problems


def checkout_problems(workflow: dict[str, Any], name: str) -> list[str]:
    return [f"{name}:{job_id}: actions/checkout without `persist-credentials: false`"
            for job_id, job in workflow["jobs"].items() for step in steps(job)
            if uses(step, CHECKOUT_ACTION) and (step.get("with") or {}).get("persist-credentials") is not False]


_SECRET_REF = re.compile(r"""secrets\s*(?:\.\s*([\w-]+)|\[\s*['"]([\w-]+)['"]\s*\])""")


def secret_problems(workflow: dict[str, Any], name: str) -> list[str]:
    """State secrets (and any secret but GITHUB_TOKEN) only in jobs that name an environment: workflow-
    level `env:` reaches every job, and a job without an environment gets repository secrets."""
    problems: list[str] = []

    def leaks(where: str, node: Any) -> None:
        text = yaml.safe_dump(node, sort_keys=True)
        named = {a or b for a, b in _SECRET_REF.findall(text)} - {"GITHUB_TOKEN"}
        named |= {s for s in STATE_SECRETS if s in text}
        if named:
            problems.append(f"{where}: {', '.join(sorted(named))} outside a job with an `environment:`")

    leaks(f"{name}: workflow level", {k: v for k, v in workflow.items() if k != "jobs"})
    for job_id, job in workflow["jobs"].items():
        if job.get("environment"):
            continue
        leaks(f"{name}:{job_id}", job)
        if "secrets" in job:
            problems.append(f"{name}:{job_id}: passes secrets ({job['secrets']!r}) to a reusable workflow")
    return problems


# --------------------------------------------------------------------------------------
# Offline tools: check-jsonschema, zizmor
# --------------------------------------------------------------------------------------


def offline_env() -> dict[str, str]:
    """Any attempt to reach the network goes to a proxy on a closed local port and fails, so a pass
    proves the check is offline. No GitHub token: zizmor must not go online on its own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN", "NO_PROXY", "no_proxy")
           and not k.startswith("ZIZMOR_")}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env[var] = "http://127.0.0.1:9"
    return env


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored GitHub workflow schema, offline."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)],
        capture_output=True, text=True, env=offline_env(), timeout=120)


def zizmor(target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`make lint`'s zizmor command (offline, the project's config) on ``target``."""
    if not ZIZMOR.is_file():
        pytest.fail(f"{ZIZMOR} is missing: zizmor is a dev dependency in uv.lock; run `make install`")
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", "--color=never", "--config", str(ZIZMOR_CONFIG), *extra,
         str(target)],
        capture_output=True, text=True, env=offline_env(), timeout=120, cwd=PROJECT_DIR)


# --------------------------------------------------------------------------------------
# Every workflow: schema, pins, zizmor
# --------------------------------------------------------------------------------------


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in workflow_files()} >= {"tests.yml", "preview.yml", "deploy.yml"}


def test_every_workflow_is_valid_against_the_github_workflow_schema_offline() -> None:
    files = workflow_files()
    assert files
    result = check_jsonschema(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = copy.deepcopy(load("preview.yml"))
    broken["jobs"]["preview"]["permissions"]["id-token"] = "sometimes"
    del broken["jobs"]["stacks"]["runs-on"]
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = check_jsonschema(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Schema validation errors" in result.stdout + result.stderr


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_every_action_is_pinned_to_a_reviewed_commit_sha_with_its_version_in_a_comment(name: str) -> None:
    assert pin_problems((WORKFLOWS / name).read_text(encoding="utf-8"), name) == []


def test_a_tag_ref_an_unknown_sha_or_a_wrong_version_comment_is_caught() -> None:
    text = (WORKFLOWS / "preview.yml").read_text(encoding="utf-8")
    checkout_sha, _ = PINNED["actions/checkout"]
    python_sha, _ = PINNED["actions/setup-python"]
    aws_sha, aws_version = PINNED["aws-actions/configure-aws-credentials"]
    assert f"actions/checkout@{checkout_sha} # v7.0.1" in text, "the control needs the pinned line"
    tagged = text.replace(f"actions/checkout@{checkout_sha} # v7.0.1", "actions/checkout@v7", 1)
    assert any("actions/checkout@v7 is not pinned" in p for p in pin_problems(tagged, "x.yml"))
    other_sha = text.replace(f"actions/setup-python@{python_sha}", "actions/setup-python@" + "0" * 40, 1)
    assert any("expected commit " + python_sha in p for p in pin_problems(other_sha, "x.yml"))
    wrong_comment = text.replace(f"{aws_sha} # {aws_version}", f"{aws_sha} # v6.0.0", 1)
    assert any("comment says v6.0.0" in p for p in pin_problems(wrong_comment, "x.yml"))
    no_comment = text.replace(f"{aws_sha} # {aws_version}", aws_sha, 1)
    assert any(f"no trailing `# {aws_version}` comment" in p for p in pin_problems(no_comment, "x.yml"))
    unknown = text.replace(f"actions/checkout@{checkout_sha}", f"evil/checkout@{checkout_sha}", 1)
    assert any("unreviewed action" in p for p in pin_problems(unknown, "x.yml"))


def test_zizmor_finds_nothing_in_the_workflows_offline() -> None:
    """Exactly `make lint`'s command: the default persona, the project's config (hash-pin policy)."""
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout + result.stderr


def test_zizmor_reports_an_unpinned_action(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    sha, version = PINNED["actions/checkout"]
    text = (WORKFLOWS / "preview.yml").read_text(encoding="utf-8")
    assert f"actions/checkout@{sha} # {version}" in text
    (workflows / "preview.yml").write_text(text.replace(f"actions/checkout@{sha} # {version}",
                                                        "actions/checkout@v7", 1), encoding="utf-8")
    result = zizmor(workflows, "--format", "json")
    assert result.returncode >= 11, result.stdout + result.stderr  # 11..14: findings
    assert "unpinned-uses" in result.stdout, result.stdout + result.stderr


def test_the_zizmor_config_hash_pins_every_action_and_silences_no_other_audit() -> None:
    rules = yaml.safe_load(ZIZMOR_CONFIG.read_text(encoding="utf-8"))["rules"]
    assert rules["unpinned-uses"]["config"]["policies"] == {"*": "hash-pin"}
    silenced = {rule for rule, cfg in rules.items() if "ignore" in cfg or cfg.get("disable")}
    assert silenced <= {"self-repository"}, "fix a finding rather than ignore it (or justify it here and there)"
    assert rules.get("self-repository", {}).get("ignore", []) in ([], ["deploy.yml"])


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_every_checkout_drops_its_credentials(name: str) -> None:
    """No job needs to push: the token actions/checkout would keep on disk is an artifact to leak."""
    wf = load(name)
    assert any(uses(s, CHECKOUT_ACTION) for job in wf["jobs"].values() for s in steps(job))
    assert checkout_problems(wf, name) == []


def test_a_checkout_that_keeps_its_credentials_is_caught() -> None:
    wf = load("deploy.yml")
    checkout = next(s for s in steps(wf["jobs"]["deploy"]) if uses(s, CHECKOUT_ACTION))
    del checkout["with"]["persist-credentials"]
    other = next(s for s in steps(wf["jobs"]["stacks"]) if uses(s, CHECKOUT_ACTION))
    other["with"]["persist-credentials"] = True
    assert len(checkout_problems(wf, "deploy.yml")) == 2


# --------------------------------------------------------------------------------------
# Secrets: only inside the stack's environment
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_no_job_without_an_environment_sees_a_state_secret(name: str) -> None:
    assert secret_problems(load(name), name) == []


def test_a_state_secret_outside_an_environment_is_caught() -> None:
    preview = load("preview.yml")
    del preview["jobs"]["preview"]["environment"]
    assert any("preview.yml:preview: PULUMI_ACCESS_TOKEN, PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE" in p
               for p in secret_problems(preview, "preview.yml"))
    deploy = load("deploy.yml")
    deploy["env"] = {"PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}
    deploy["jobs"]["test"]["secrets"] = "inherit"
    deploy["jobs"]["stacks"]["steps"].append({"run": "true", "env": {"X": "${{ secrets['SOME_KEY'] }}"}})
    problems = secret_problems(deploy, "deploy.yml")
    assert any("workflow level: PULUMI_CONFIG_PASSPHRASE" in p for p in problems)
    assert any("test: passes secrets ('inherit')" in p for p in problems)
    assert any("stacks: SOME_KEY" in p for p in problems)


def test_pulumi_jobs_read_the_state_secrets_from_their_environment() -> None:
    for name, wf in all_workflows().items():
        for job_id, job in pulumi_jobs(wf).items():
            assert str(job.get("environment", "")).startswith("${{ matrix."), f"{name}:{job_id}"
            for secret in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL"):
                assert job["env"][secret] == f"${{{{ secrets.{secret} }}}}", f"{name}:{job_id}: {secret}"
            assert pulumi_command_step(job)["with"]["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"


# --------------------------------------------------------------------------------------
# Python dependencies: from uv.lock through the bootstrap; Pulumi's uv on PATH
# --------------------------------------------------------------------------------------


def test_pulumi_jobs_install_from_the_lock_put_the_venv_on_path_and_give_the_pack_its_own_venv() -> None:
    for name, wf in all_workflows().items():
        for job_id, job in pulumi_jobs(wf).items():
            where = f"{name}:{job_id}"
            all_steps = steps(job)
            first_pulumi = next(i for i, s in enumerate(all_steps) if uses(s, PULUMI_ACTION))
            command = all_steps.index(pulumi_command_step(job) or {})
            install = next((i for i, s in enumerate(all_steps) if INSTALL_LINE in step_lines(s)), None)
            assert install is not None and install < first_pulumi, f"{where}: `{INSTALL_LINE}` before Pulumi"
            lines = step_lines(all_steps[install])
            assert lines.index(VENV_ON_PATH_LINE) > lines.index(INSTALL_LINE), \
                f"{where}: .venv/bin (the pinned uv, for `toolchain: uv`) on PATH after the install"
            pack = next((i for i, s in enumerate(all_steps)
                         if s.get("working-directory") == "policies" and step_lines(s) == ["pulumi install"]), None)
            assert pack is not None and first_pulumi < pack < command, \
                f"{where}: `pulumi install` in policies/ once the CLI is there, before the Pulumi command"
            assert job["env"]["UV_LOCKED"] == "true", f"{where}: Pulumi's own `uv sync` must not re-lock"


def test_no_workflow_installs_python_packages_outside_the_lock() -> None:
    for name, wf in all_workflows().items():
        for job_id, job in wf["jobs"].items():
            for line in run_lines(job):
                assert not re.search(r"\bpip3?\s+install\b|\buv\s+(pip|add|lock)\b", line), f"{name}:{job_id}: {line}"
            for step in steps(job):
                if uses(step, "actions/setup-python@"):
                    assert "cache" not in (step.get("with") or {}), f"{name}:{job_id}: no pip cache any more"


# --------------------------------------------------------------------------------------
# Tests workflow
# --------------------------------------------------------------------------------------


def test_tests_run_the_readme_test_command_on_every_push_and_pull_request() -> None:
    wf = load("tests.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(wf["on"])
    assert wf["on"]["push"] is None and wf["on"]["pull_request"] is None, "every branch, no filter"
    (job,) = wf["jobs"].values()
    assert run_lines(job) == [readme_test_command()]
    python = next(s for s in steps(job) if uses(s, "actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11", "the oldest Python the project supports"
    assert wf["permissions"] == {"contents": "read"}
    assert "environment" not in job and "permissions" not in job


# --------------------------------------------------------------------------------------
# Preview workflow
# --------------------------------------------------------------------------------------


def test_every_committed_stack_is_previewed_on_pull_requests() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    assert stacks_run(wf, "preview") == set(stack_files())


def test_the_matrices_are_derived_from_the_stack_files(project_copy: Path) -> None:
    """A new Pulumi.<stack>.yaml gets its preview and its deployment without editing a workflow."""
    (project_copy / "Pulumi.staging.yaml").write_text("config:\n  aws:region: us-west-2\n")
    assert "staging" in stacks_run(load("preview.yml"), "preview", project_copy)
    assert "staging" in stacks_run(load("deploy.yml"), "up", project_copy)


def test_a_hand_kept_stack_list_that_misses_a_stack_is_caught() -> None:
    wf = load("preview.yml")
    wf["jobs"]["preview"]["strategy"]["matrix"] = {"include": [{"stack": "dev", "region": "eu-west-1"}]}
    assert set(stack_files()) - stacks_run(wf, "preview") == {"prod"}


def test_preview_uses_pulumi_actions_with_the_policy_pack_a_pr_comment_and_oidc() -> None:
    wf = load("preview.yml")
    job = wf["jobs"]["preview"]
    pulumi = pulumi_command_step(job)
    assert pulumi is not None
    with_ = pulumi["with"]
    assert with_["command"] == "preview"
    assert with_["comment-on-pr"] is True
    assert with_["policyPacks"] == "policies"
    assert with_["stack-name"] == "${{ matrix.stack }}"
    assert job["environment"] == "${{ matrix.preview_environment }}"
    (aws,) = [s for s in steps(job) if uses(s, AWS_ACTION)]
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}", "the environment's own role"
    assert "matrix.region" in aws["with"]["aws-region"]
    assert "aws-access-key-id" not in aws["with"], "OIDC only, no long-lived keys"
    # credentials come before the Pulumi command
    assert steps(job).index(aws) < steps(job).index(pulumi)


def test_each_stack_previews_in_its_preview_environment_and_production_only_in_production_preview() -> None:
    """`production` admits main only; production state is decrypted for a pull request only in
    `production-preview`, whose reviewers approve each run."""
    runs = pulumi_runs(load("preview.yml"), "preview")
    assert {r.stack for r in runs} == set(stack_files())
    for run in runs:
        info = stack_info(PROJECT_DIR, run.stack)
        assert run.environment == info.preview_environment, run
        assert run.environment != "production", f"{run.stack}: `production` is for main only"
        if info.production:
            assert run.environment == "production-preview", run


def test_a_production_preview_in_the_deploy_environment_is_caught() -> None:
    wf = load("preview.yml")
    wf["jobs"]["preview"]["environment"] = "${{ matrix.deploy_environment }}"
    wrong = {r.stack: r.environment for r in pulumi_runs(wf, "preview")}
    assert wrong["prod"] == "production" != stack_info(PROJECT_DIR, "prod").preview_environment


def test_preview_permissions_are_least_privilege() -> None:
    wf = load("preview.yml")
    assert wf["permissions"] == {"contents": "read"}
    assert wf["jobs"]["stacks"].get("permissions") is None, "inherits contents: read"
    assert wf["jobs"]["preview"]["permissions"] == {
        "contents": "read", "id-token": "write", "pull-requests": "write"}
    assert "head.repo.full_name == github.repository" in wf["jobs"]["preview"]["if"], \
        "fork PRs have no secrets nor OIDC token"
    assert "pull_request_target" not in wf["on"], "never run PR code with the base repository's secrets"


# --------------------------------------------------------------------------------------
# Deploy workflow
# --------------------------------------------------------------------------------------


def test_every_committed_stack_is_deployed_on_main_and_production_only_through_its_environment() -> None:
    wf = load("deploy.yml")
    assert wf["on"]["push"] == {"branches": ["main"]}
    runs = pulumi_runs(wf, "up")
    assert {r.stack for r in runs} == set(stack_files())
    production = {s for s in stack_files() if stack_info(PROJECT_DIR, s).production}
    assert production, "prod is a production stack"
    for run in runs:
        info = stack_info(PROJECT_DIR, run.stack)
        assert run.environment == info.deploy_environment, run
        assert (run.environment == "production") == info.production, run
    # and the production stacks only after every job that deploys a non-production stack
    non_production_jobs = {r.job_id for r in runs if r.stack not in production}
    for run in runs:
        if run.stack in production:
            assert non_production_jobs <= _all_needs(wf, run.job_id), run


def test_a_production_stack_deployed_outside_production_is_caught() -> None:
    wf = load("deploy.yml")
    wf["jobs"]["deploy-production"]["environment"] = "${{ matrix.stack }}"
    prod = next(r for r in pulumi_runs(wf, "up") if r.stack == "prod")
    assert prod.environment == "prod" != stack_info(PROJECT_DIR, "prod").deploy_environment


def test_production_waits_for_the_other_stacks_and_those_for_the_tests() -> None:
    wf = load("deploy.yml")
    jobs = wf["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/tests.yml"
    assert "test" in _needs(jobs["stacks"])
    assert "stacks" in _needs(jobs["deploy"])
    assert "deploy" in _needs(jobs["deploy-production"])
    condition = " ".join(str(jobs["deploy-production"]["if"]).split())
    # a failed or cancelled (superseded) non-production deployment keeps production where it is
    assert "!cancelled()" in condition
    assert "needs.stacks.result == 'success'" in condition
    assert """contains(fromJSON('["success", "skipped"]'), needs.deploy.result)""" in condition


def test_every_deployment_is_verified_after_up() -> None:
    wf = load("deploy.yml")
    for job_id, job in pulumi_jobs(wf).items():
        assert verify_problems(job) == [], job_id


def verify_problems(job: dict[str, Any]) -> list[str]:
    all_steps = steps(job)
    up = pulumi_command_step(job)
    if up is None or up["with"].get("command") != "up":
        return []
    after = all_steps[all_steps.index(up) + 1:]
    for step in after:
        for line in step_lines(step):
            match = VERIFY_LINE.match(line)
            if match and (step.get("env") or {}).get(match.group(1)) == up["with"]["stack-name"]:
                return []
    return ["no `python3 scripts/stack.py verify --stack <the stack just deployed>` after `pulumi up`"]


def test_a_deployment_without_verify_or_verifying_before_up_is_caught() -> None:
    job = load("deploy.yml")["jobs"]["deploy"]
    verify = next(s for s in steps(job) if any(VERIFY_LINE.match(ln) for ln in step_lines(s)))
    without = copy.deepcopy(job)
    without["steps"] = [s for s in steps(job) if s != verify]
    assert verify_problems(without)
    before = copy.deepcopy(without)
    before["steps"].insert(0, verify)
    assert verify_problems(before)
    other_stack = copy.deepcopy(job)
    next(s for s in steps(other_stack) if s == verify)["env"]["STACK"] = "prod"
    assert verify_problems(other_stack)


def test_two_runs_never_update_one_stack_at_once() -> None:
    wf = load("deploy.yml")
    groups = []
    for job_id in ("deploy", "deploy-production"):
        concurrency = wf["jobs"][job_id]["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{job_id}: never cancel an update mid-way"
        groups.append(concurrency["group"])
    assert groups[0] == groups[1] and "${{ matrix.stack }}" in groups[0], "one group per stack, across jobs"
    assert "concurrency" not in wf, "a workflow-wide group would hold dev back while prod awaits approval"


def test_deploy_permissions_are_least_privilege() -> None:
    wf = load("deploy.yml")
    assert wf["permissions"] == {"contents": "read"}
    for job_id in ("deploy", "deploy-production"):
        assert wf["jobs"][job_id]["permissions"] == {"contents": "read", "id-token": "write"}
        up = pulumi_command_step(wf["jobs"][job_id])
        assert up is not None
        assert up["with"]["command"] == "up" and up["with"]["policyPacks"] == "policies"
        (aws,) = [s for s in steps(wf["jobs"][job_id]) if uses(s, AWS_ACTION)]
        assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}", "the environment's own role"
        assert "aws-access-key-id" not in aws["with"], "OIDC only, no long-lived keys"
        assert int(aws["with"]["role-duration-seconds"]) >= 60 * int(wf["jobs"][job_id]["timeout-minutes"]), \
            f"{job_id}: the AWS session must outlast the job (an EKS cluster takes longer than an hour's default)"


# --------------------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------------------


def test_previews_and_deployments_run_on_the_stacks_deploy_runners() -> None:
    for name, command in (("preview.yml", "preview"), ("deploy.yml", "up")):
        wf = load(name)
        for job_id, job in pulumi_jobs(wf).items():
            assert job["runs-on"] == "${{ matrix.runner }}", f"{name}:{job_id}"
        for run in pulumi_runs(wf, command):
            assert run.runner == list(stack_info(PROJECT_DIR, run.stack).runner), run


def test_a_stack_names_its_own_runner(project_copy: Path) -> None:
    """A stack whose API is closed to GitHub-hosted runners deploys from a runner it names."""
    (project_copy / "Pulumi.staging.yaml").write_text(
        "config:\n  aws:region: us-west-2\n  cilium-eks:deployRunner: [self-hosted, staging-vpc]\n")
    for name, command in (("preview.yml", "preview"), ("deploy.yml", "up")):
        runners = {r.stack: r.runner for r in pulumi_runs(load(name), command, project_copy)}
        assert runners["staging"] == ["self-hosted", "staging-vpc"], name
        assert runners["dev"] == ["ubuntu-latest"], name


# --------------------------------------------------------------------------------------
# References and hygiene, every workflow
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_every_path_policy_pack_stack_command_and_make_target_a_workflow_names_exists(name: str) -> None:
    assert reference_problems(load(name)) == []


def test_a_reference_to_something_missing_is_caught() -> None:
    wf = load("preview.yml")
    job = wf["jobs"]["preview"]
    pulumi = pulumi_command_step(job)
    assert pulumi is not None
    pulumi["with"]["policyPacks"] = "policy-pack-that-is-not-here"
    pulumi["with"]["stack-name"] = "staging"
    job["steps"].append({"run": "python3 scripts/missing.py && make deploy-everything"})
    job["steps"].append({"run": "python3 scripts/stack.py check --stack dev"})
    problems = reference_problems(wf)
    assert any("policy-pack-that-is-not-here" in p for p in problems)
    assert any("stack 'staging'" in p for p in problems)
    assert any("scripts/missing.py" in p for p in problems)
    assert any("deploy-everything" in p for p in problems)
    assert any("`scripts/stack.py check` is not a command" in p for p in problems)


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_no_expression_is_expanded_inside_a_shell_script(name: str) -> None:
    """Secrets, PR titles, branch names, matrix values reach a shell only through `env:`, never
    pasted into the script by `${{ }}`."""
    for job_id, job in load(name)["jobs"].items():
        for step in steps(job):
            assert "${{" not in str(step.get("run", "")), f"{name}:{job_id}: {step.get('run')}"


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_every_job_has_a_timeout_and_no_workflow_grants_more_than_read(name: str) -> None:
    wf = load(name)
    assert wf["permissions"] == {"contents": "read"}
    for job_id, job in wf["jobs"].items():
        if "uses" not in job:
            assert isinstance(job.get("timeout-minutes"), int), f"{name}:{job_id}: timeout-minutes"
        for scope, level in (job.get("permissions") or {}).items():
            assert (scope, level) in {("contents", "read"), ("id-token", "write"), ("pull-requests", "write")}, \
                f"{name}:{job_id}: {scope}: {level}"


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    proj = tmp_path / "project"
    proj.mkdir()
    for path in [PROJECT_DIR / "Pulumi.yaml", *stack_files().values()]:
        shutil.copyfile(path, proj / path.name)
    return proj
