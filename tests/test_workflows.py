"""The GitHub Actions workflows: valid against the GitHub workflow schema (offline), every
committed stack previewed on pull requests and deployed on main (prod only through the protected
`production` environment), every path, policy pack, Make target and stack they name exists, and
least-privilege permissions.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_entrypoint import load_stack_module, makefile_targets, readme_test_command
from tooling.paths import PROJECT_DIR
from tooling.stackfiles import stack_files

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
sp = load_stack_module()

PULUMI_ACTION = "pulumi/actions@"
AWS_ACTION = "aws-actions/configure-aws-credentials@"
# Current majors, checked against the actions' repositories (see the report of issue 5).
PINNED_MAJORS = {
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    "pulumi/actions": "v7",
    "aws-actions/configure-aws-credentials": "v6",
}


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(step: dict[str, Any], prefix: str) -> bool:
    return str(step.get("uses", "")).startswith(prefix)


def run_lines(job: dict[str, Any]) -> list[str]:
    return [ln.strip() for s in steps(job) for ln in str(s.get("run", "")).splitlines() if ln.strip()]


# --------------------------------------------------------------------------------------
# Coverage: which stacks a workflow runs a Pulumi command on
# --------------------------------------------------------------------------------------

_FROM_JSON = re.compile(r"^\$\{\{\s*fromJSON\(needs\.([\w-]+)\.outputs\.([\w-]+)\)\s*\}\}$")
_STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")


def _listed_by(job: dict[str, Any], output: str, project_dir: Path) -> list[dict[str, str]] | None:
    """The stacks a job's output holds, when a step computes it with `scripts/stack.py list`."""
    match = _STEP_OUTPUT.match(str((job.get("outputs") or {}).get(output, "")))
    if match is None:
        return None
    step = next((s for s in steps(job) if s.get("id") == match.group(1)), None)
    if step is None:
        return None
    pattern = re.compile(rf'^echo "{re.escape(match.group(2))}=\$\(python3 scripts/stack\.py list --json'
                         r'(?: --select ([\w-]+))?\)" >> "\$GITHUB_OUTPUT"$')
    for line in str(step.get("run", "")).splitlines():
        found = pattern.match(line.strip())
        if found:
            infos = sp.all_stacks(project_dir, found.group(1) or "all")
            return [{"stack": i.stack, "region": i.region, "environment": i.environment} for i in infos]
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


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def stacks_run(workflow: dict[str, Any], command: str, project_dir: Path = PROJECT_DIR,
               job_filter: Any = None) -> set[str]:
    """Every stack some job runs `pulumi <command>` on (pulumi/actions with that `command`)."""
    out: set[str] = set()
    for job_id, job in workflow["jobs"].items():
        if job_filter is not None and not job_filter(job_id, job):
            continue
        for step in steps(job):
            if not uses(step, PULUMI_ACTION) or (step.get("with") or {}).get("command") != command:
                continue
            name = str(step["with"].get("stack-name", ""))
            if re.fullmatch(r"\$\{\{\s*matrix\.stack\s*\}\}", name):
                out.update(str(e["stack"]) for e in matrix_entries(workflow, job, project_dir))
            elif name:
                out.add(name)
    return out


# --------------------------------------------------------------------------------------
# References: paths, policy packs, stacks, Make targets, local workflows
# --------------------------------------------------------------------------------------


def reference_problems(workflow: dict[str, Any], project_dir: Path = PROJECT_DIR) -> list[str]:
    problems: list[str] = []
    stacks = set(sp.stack_files(project_dir))
    targets = makefile_targets() if project_dir == PROJECT_DIR else set()

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
            for line in str(step.get("run", "")).splitlines():
                for script in re.findall(r"(?<![\w/.-])((?:scripts|\.ci)/[\w./-]+)", line):
                    if not (project_dir / script).is_file():
                        problems.append(f"{where}: {script!r} does not exist")
                for target in re.findall(r"(?:^|[;&|]\s*)make\s+([\w-]+)", line):
                    if targets and target not in targets:
                        problems.append(f"{where}: no Makefile target {target!r}")
                for flag in re.findall(r"--select\s+([\w-]+)", line):
                    if flag not in ("all", "production", "non-production"):
                        problems.append(f"{where}: `stack.py list --select {flag}` is not a selection")
    return problems


# --------------------------------------------------------------------------------------
# Schema validation, offline
# --------------------------------------------------------------------------------------


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored GitHub workflow schema. Any attempt to reach the network
    goes to a proxy on a closed local port and fails, so a pass proves the check is offline."""
    env = {**os.environ}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env[var] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)],
        capture_output=True, text=True, env=env, timeout=120)


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


def test_every_action_is_pinned_to_its_current_major() -> None:
    for path in workflow_files():
        for job_id, job in load(path.name)["jobs"].items():
            for step in steps(job):
                ref = str(step.get("uses", ""))
                if not ref or ref.startswith("./"):
                    continue
                action, _, version = ref.partition("@")
                assert action in PINNED_MAJORS, f"{path.name}:{job_id}: unreviewed action {ref}"
                expected = PINNED_MAJORS[action]
                assert version == expected, f"{path.name}:{job_id}: {ref}, expected @{expected}"


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


# --------------------------------------------------------------------------------------
# Preview workflow
# --------------------------------------------------------------------------------------


def test_every_committed_stack_is_previewed_on_pull_requests() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    assert stacks_run(wf, "preview") == set(stack_files())


def test_the_preview_matrix_is_derived_from_the_stack_files(project_copy: Path) -> None:
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
    (pulumi,) = [s for s in steps(job) if uses(s, PULUMI_ACTION) and s.get("with", {}).get("command")]
    with_ = pulumi["with"]
    assert with_["command"] == "preview"
    assert with_["comment-on-pr"] is True
    assert with_["policyPacks"] == "policies"
    assert with_["stack-name"] == "${{ matrix.stack }}"
    assert with_["cloud-url"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    (aws,) = [s for s in steps(job) if uses(s, AWS_ACTION)]
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert "matrix.region" in aws["with"]["aws-region"]
    assert "aws-access-key-id" not in aws["with"], "OIDC only, no long-lived keys"
    # credentials come before the Pulumi command
    assert steps(job).index(aws) < steps(job).index(pulumi)


def test_preview_permissions_are_least_privilege() -> None:
    wf = load("preview.yml")
    assert wf["permissions"] == {"contents": "read"}
    assert wf["jobs"]["stacks"].get("permissions") is None, "inherits contents: read"
    assert wf["jobs"]["preview"]["permissions"] == {
        "contents": "read", "id-token": "write", "pull-requests": "write"}
    assert "head.repo.full_name == github.repository" in wf["jobs"]["preview"]["if"], \
        "fork PRs have no secrets nor OIDC token"


# --------------------------------------------------------------------------------------
# Deploy workflow
# --------------------------------------------------------------------------------------


def _production(job_id: str, job: dict[str, Any]) -> bool:
    return job.get("environment") == "production"


def test_every_committed_stack_is_deployed_on_main_and_production_only_through_its_environment() -> None:
    wf = load("deploy.yml")
    assert wf["on"]["push"] == {"branches": ["main"]}
    assert stacks_run(wf, "up") == set(stack_files())
    production = {s for s in stack_files() if sp.stack_info(PROJECT_DIR, s).production}
    assert production, "prod is a production stack"
    assert stacks_run(wf, "up", job_filter=_production) == production
    assert stacks_run(wf, "up", job_filter=lambda i, j: not _production(i, j)) == set(stack_files()) - production


def test_production_waits_for_the_other_stacks_and_those_for_the_tests() -> None:
    wf = load("deploy.yml")
    jobs = wf["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/tests.yml"
    assert "test" in _needs(jobs["stacks"])
    assert "stacks" in _needs(jobs["deploy"])
    assert "deploy" in _needs(jobs["deploy-production"])
    assert "!failure()" in jobs["deploy-production"]["if"]
    assert jobs["deploy"]["environment"] == "${{ matrix.stack }}", "non-production stacks need no approval"


def test_two_runs_never_update_one_stack_at_once() -> None:
    wf = load("deploy.yml")
    groups = []
    for job_id in ("deploy", "deploy-production"):
        concurrency = wf["jobs"][job_id]["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{job_id}: never cancel an update mid-way"
        groups.append(concurrency["group"])
    assert groups[0] == groups[1] and "${{ matrix.stack }}" in groups[0], "one group per stack, across jobs"


def test_deploy_permissions_are_least_privilege() -> None:
    wf = load("deploy.yml")
    assert wf["permissions"] == {"contents": "read"}
    for job_id in ("deploy", "deploy-production"):
        assert wf["jobs"][job_id]["permissions"] == {"contents": "read", "id-token": "write"}
        up = next(s for s in steps(wf["jobs"][job_id]) if uses(s, PULUMI_ACTION) and s.get("with", {}).get("command"))
        assert up["with"]["command"] == "up" and up["with"]["policyPacks"] == "policies"


# --------------------------------------------------------------------------------------
# References and hygiene, every workflow
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_every_path_policy_pack_stack_and_make_target_a_workflow_names_exists(name: str) -> None:
    assert reference_problems(load(name)) == []


def test_a_reference_to_something_missing_is_caught() -> None:
    wf = load("preview.yml")
    job = wf["jobs"]["preview"]
    pulumi = next(s for s in steps(job) if uses(s, PULUMI_ACTION) and s.get("with", {}).get("command"))
    pulumi["with"]["policyPacks"] = "policy-pack-that-is-not-here"
    pulumi["with"]["stack-name"] = "staging"
    job["steps"].append({"run": "python3 scripts/missing.py && make deploy-everything"})
    problems = reference_problems(wf)
    assert any("policy-pack-that-is-not-here" in p for p in problems)
    assert any("stack 'staging'" in p for p in problems)
    assert any("scripts/missing.py" in p for p in problems)
    assert any("deploy-everything" in p for p in problems)


@pytest.mark.parametrize("name", [p.name for p in workflow_files()])
def test_no_secret_or_event_text_is_expanded_inside_a_shell_script(name: str) -> None:
    """Secrets go through env/with, never into `run:`; PR titles and branch names never reach a shell."""
    for job_id, job in load(name)["jobs"].items():
        for line in run_lines(job):
            assert "secrets." not in line, f"{name}:{job_id}: {line}"
            assert "github.event." not in line and "github.head_ref" not in line, f"{name}:{job_id}: {line}"


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    proj = tmp_path / "project"
    proj.mkdir()
    for path in [PROJECT_DIR / "Pulumi.yaml", *stack_files().values()]:
        (proj / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return proj
