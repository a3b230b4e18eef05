"""Verify a running cluster: the manual recipe's checks, as code.

    python -m tooling.verify --stack dev                  # kubeconfig from the stack's outputs
    python -m tooling.verify --kubeconfig ~/.kube/config --context my-cluster
    python -m tooling.verify --stack dev --connectivity-test --timeout 90

Every check prints one line, PASS, FAIL or SKIP (with the reason), followed by its evidence.
The exit code is 0 when nothing failed, 1 when a check failed, 2 when verify could not run
(usage, kubectl or pulumi missing, no kubeconfig).

Modules: ``results`` (CheckResult, CommandOutcome, exit codes), ``objects`` (reading
``kubectl get -o json`` answers), ``checks`` (the pure ``check_*`` / ``decide_*`` functions,
and how "no pod got its IP from the VPC CNI" is decided), ``capacity`` (the live cluster
against the capacity model), ``kubectl`` (commands under a
deadline), ``runner`` (every check, and the report), ``cli`` (the command line;
``__main__`` runs it).
"""

from .capacity import check_capacity, decide_subnets, subnet_ids
from .checks import (
    check_agent_taint,
    check_aws_node,
    check_cilium_agent,
    check_cilium_envoy,
    check_cilium_operator,
    check_hubble,
    check_pod_ips_from_cilium,
    check_pods_managed,
    decide_cilium_status,
    decide_connectivity_test,
    decide_demo_stage,
    decide_probe,
    find_demo_namespaces,
)
from .cli import build_parser, main, stack_kubeconfig
from .kubectl import CheckTimeout, Deadline, Kubectl, KubectlError, run_command
from .objects import items, key_of, name_of, networked_pods
from .results import EXIT_CANNOT_RUN, EXIT_FAILED, EXIT_OK, FAIL, PASS, SKIP, CheckResult, CommandOutcome
from .runner import Options, probe_max_time, report, run_checks

__all__ = [
    "EXIT_CANNOT_RUN",
    "EXIT_FAILED",
    "EXIT_OK",
    "FAIL",
    "PASS",
    "SKIP",
    "CheckResult",
    "CheckTimeout",
    "CommandOutcome",
    "Deadline",
    "Kubectl",
    "KubectlError",
    "Options",
    "build_parser",
    "check_agent_taint",
    "check_aws_node",
    "check_capacity",
    "check_cilium_agent",
    "check_cilium_envoy",
    "check_cilium_operator",
    "check_hubble",
    "check_pod_ips_from_cilium",
    "check_pods_managed",
    "decide_cilium_status",
    "decide_connectivity_test",
    "decide_demo_stage",
    "decide_probe",
    "decide_subnets",
    "find_demo_namespaces",
    "items",
    "key_of",
    "main",
    "name_of",
    "networked_pods",
    "probe_max_time",
    "report",
    "run_checks",
    "run_command",
    "stack_kubeconfig",
    "subnet_ids",
]
