"""cilium-operator-least-privilege: the operator's IAM role grants only the ENI actions, each write
only in the cluster's VPC and on the cluster's ENIs, and trusts only its service account."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
)

from ..core.cilium import NAMESPACE as CILIUM_NAMESPACE
from ..core.cilium import OPERATOR_SERVICE_ACCOUNT
from ..core.operator_iam import ENI_WRITE_SCOPES, eni_ownership_tags
from ..props import (
    UNKNOWN,
    Deferred,
    as_list,
    elements,
    explain,
    get,
    json_document,
    keys,
    path,
    plain,
    settings,
)
from ..resources import (
    EKS_CLUSTER,
    EKS_CLUSTER_COMPONENT,
    IAM_POLICY,
    IAM_POLICY_ATTACHMENT,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT,
    is_cilium_release,
)
from ..schemas import LEAST_PRIVILEGE_SCHEMA
from ..view import StackView


def _policy_problems(doc: Any, allowed: set[str]) -> list[str]:
    """What an IAM permissions document grants beyond ``allowed`` (lower-case actions)."""
    problems: list[str] = []
    for st in as_list(get(doc, "Statement")):
        if get(st, "Effect", "Allow") != "Allow":
            continue
        if get(st, "NotAction") is not None:
            problems.append("uses NotAction, which grants every action not listed")
        for action in as_list(get(st, "Action")):
            if not isinstance(action, str):
                continue
            service = action.split(":", 1)[0].lower()
            if "*" in action or "?" in action:
                problems.append(f"grants the wildcard action `{action}`")
            elif service in ("iam", "sts"):
                problems.append(f"grants `{action}`: {service.upper()} access lets the operator widen its own rights")
            elif action.lower() not in allowed:
                problems.append(f"grants `{action}`, which is not in the allowed list")
    return problems


# --- how far each write reaches ------------------------------------------------------------
# IAM allows a request only when every resource it touches is allowed by some statement, and the
# statements add up: one statement that grants a write on a resource type without the conditions
# ENI_WRITE_SCOPES (core/operator_iam.py, from the AWS Service Authorization Reference for EC2)
# names for that type is enough to widen the role. Condition keys compare case-insensitively,
# operator names do not; a key under any other operator (...Like, ...IfExists, ForAnyValue:...)
# does not count as the narrowing.

_WRITE_SCOPES = {a.lower(): (a, scopes) for a, scopes in ENI_WRITE_SCOPES.items()}


def _wildcard(pattern: str, text: str) -> bool:
    """IAM's ARN matching: ``*`` any run of characters, ``?`` one, everything else literal."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text) is not None


def _covers(resource: Any, rtype: str) -> bool:
    """Whether a statement's ``Resource`` entry includes resources of the EC2 type ``rtype``."""
    if not isinstance(resource, str):
        return True  # unreadable: assume the worst
    parts = (resource.split(":", 5) + ["*"] * 6)[:6]
    fillers = ["arn", "aws", "ec2", "region", "000000000000", f"{rtype}/probe"]
    probe = ":".join(fillers[i] if any(c in parts[i] for c in "*?") or i in (2, 5) else parts[i]
                     for i in range(6))
    return _wildcard(resource, probe)


def _condition_values(condition: Any, operator: str, key: str) -> list[Any] | None:
    block = plain(get(condition, operator))
    if not isinstance(block, dict):
        return None
    found = [v for k, v in block.items() if k.lower() == key.lower()]
    return as_list(found[0]) if found else None


def _vpc_problem(condition: Any, cluster_vpcs: set[str]) -> str | None:
    values = _condition_values(condition, "ArnEquals", "ec2:Vpc")
    if values is None:
        values = _condition_values(condition, "StringEquals", "ec2:Vpc")
    if not values:
        return "in any VPC (no ArnEquals ec2:Vpc condition naming the cluster's VPC)"
    if len(values) != 1 or not isinstance(values[0], str) or any(c in values[0] for c in "*?"):
        return f"in the VPCs {values} (ec2:Vpc must name exactly the cluster's VPC)"
    vpc_id = values[0].rsplit("/", 1)[-1]
    if not re.fullmatch(r"arn:[^:]+:ec2:[^:]+:\d{12}:vpc/vpc-[0-9a-f]+", values[0]):
        return f"in VPC {values[0]!r}, which is not a VPC ARN"
    if cluster_vpcs and vpc_id not in cluster_vpcs:
        return f"in VPC {vpc_id}, not the cluster's ({', '.join(sorted(cluster_vpcs))})"
    return None


def _tags_problem(condition: Any, prefixes: tuple[str, ...], tags: Mapping[str, str]) -> str | None:
    missing = []
    for key, value in tags.items():
        found = [_condition_values(condition, "StringEquals", f"{p}/{key}") for p in prefixes]
        if not any(v == [value] for v in found):
            missing.append(f"{prefixes[0]}/{key}={value}")
    if missing:
        return f"without requiring the tags the operator puts on its ENIs ({', '.join(missing)})"
    return None


def _create_action_problem(condition: Any) -> str | None:
    values = _condition_values(condition, "StringEquals", "ec2:CreateAction")
    if not values or any(v != "CreateNetworkInterface" for v in values):
        return ("beyond tagging at creation (no StringEquals ec2:CreateAction = CreateNetworkInterface): "
                "the role could tag any ENI as the cluster's and then delete it")
    return None


def _scope_problems(doc: Any, tags: Mapping[str, str], cluster_vpcs: set[str]) -> list[str]:
    """How an operator permissions document lets an ENI write reach beyond the cluster."""
    problems: list[str] = []
    for st in as_list(get(doc, "Statement")):
        if get(st, "Effect", "Allow") != "Allow":
            continue
        sid = get(st, "Sid")
        label = f"statement {sid}" if isinstance(sid, str) and sid else "a statement"
        writes = [(str(a), _WRITE_SCOPES[str(a).lower()]) for a in as_list(get(st, "Action"))
                  if isinstance(a, str) and str(a).lower() in _WRITE_SCOPES]
        if not writes:
            continue
        if get(st, "NotResource") is not None:
            problems.append(f"{label} grants {', '.join(f'`{a}`' for a, _ in writes)} with NotResource, "
                            "which grants every resource not listed")
            continue
        resources = as_list(get(st, "Resource"))
        condition = get(st, "Condition")
        found: dict[str, list[str]] = {}
        for action, (_canonical, scopes) in writes:
            for rtype, needed in scopes.items():
                if not any(_covers(r, rtype) for r in resources):
                    continue
                for need in needed:
                    if need == "vpc":
                        problem = _vpc_problem(condition, cluster_vpcs)
                    elif need == "request-tags":
                        problem = _tags_problem(condition, ("aws:RequestTag",), tags)
                    elif need == "resource-tags":
                        problem = _tags_problem(condition, ("aws:ResourceTag", "ec2:ResourceTag"), tags)
                    else:
                        problem = _create_action_problem(condition)
                    if problem:
                        found.setdefault(f"on {rtype} {problem}", []).append(f"`{action}`")
        problems += [f"{label} grants {', '.join(dict.fromkeys(acts))} {what}" for what, acts in found.items()]
    return problems


def _trust_problems(doc: Any, namespace: str) -> list[str]:
    subject = f"system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}"
    problems: list[str] = []
    for st in as_list(get(doc, "Statement")):
        if get(st, "Effect", "Allow") != "Allow":
            continue
        principal = plain(get(st, "Principal"))
        if not isinstance(principal, dict) or set(principal) != {"Federated"}:
            problems.append(f"trusts {json.dumps(principal)} instead of only the cluster's OIDC provider")
        elif not all(isinstance(f, str) and ":oidc-provider/" in f for f in as_list(principal["Federated"])):
            problems.append(f"trusts federated principal {principal['Federated']!r}, not an EKS OIDC provider")
        actions = [a for a in as_list(get(st, "Action")) if isinstance(a, str)]
        if actions != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"allows {actions or 'no explicit action'} instead of only sts:AssumeRoleWithWebIdentity")
        condition = get(st, "Condition")
        equals = get(condition, "StringEquals")
        subs = [get(equals, k) for k in keys(equals) if k.endswith(":sub")]
        if not subs or any(as_list(s) != [subject] for s in subs):
            problems.append(f"is not limited (StringEquals <issuer>:sub) to the service account `{subject}`")
        for op in keys(condition):
            if op != "StringEquals" and any(k.endswith(":sub") for k in keys(get(condition, op))):
                problems.append(f"matches the service account with {op}, which admits other subjects")
        if not any(k.endswith(":aud") and as_list(get(equals, k)) == ["sts.amazonaws.com"] for k in keys(equals)):
            problems.append("does not require the audience (StringEquals <issuer>:aud) sts.amazonaws.com")
    return problems


def _linked(r: PolicyResource, key: str, target: PolicyResource) -> bool:
    """``r.<key>`` refers to ``target``: by data dependency, or by ID/name/ARN value."""
    if any(d.urn == target.urn for d in r.property_dependencies.get(key, [])):
        return True
    values = {v for v in (get(target.props, "name"), get(target.props, "arn"), get(target.props, "id"))
              if isinstance(v, str)}
    return any(isinstance(v, str) and v in values for v in as_list(get(r.props, key)))


def _operator_roles(release: PolicyResource, role_arn: Any, subject: str,
                    roles: list[PolicyResource]) -> list[PolicyResource]:
    """The IAM roles cilium-operator assumes: the role whose ARN the release passes as
    eni.iamRole (matched by value when known, by data dependency of ``values`` otherwise,
    e.g. during preview), and any role whose trust names the operator's service account."""
    by_value = [r for r in roles if isinstance(role_arn, str) and role_arn and get(r.props, "arn") == role_arn]
    found = by_value or [r for r in roles if _linked(release, "values", r)]
    for r in roles:
        trust = json_document(get(r.props, "assumeRolePolicy"))
        if r not in found and isinstance(trust, dict) and subject in json.dumps(trust):
            found.append(r)
    return found


def validate_cilium_operator_least_privilege(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    cfg = settings(args.get_config(), LEAST_PRIVILEGE_SCHEMA)
    allowed = {str(a).lower() for a in cfg["allowedActions"]}
    view = StackView(args.resources)
    roles_all = view.of_type(IAM_ROLE)
    policies = view.of_type(IAM_POLICY)
    deferred = Deferred()
    # The cluster's VPC, from the EKS cluster (vpcConfig.vpcId) or the pulumi-eks component (vpcId).
    cluster_vpcs = {v for v in [*(path(c.props, "vpcConfig.vpcId") for c in view.of_type(EKS_CLUSTER)),
                                *(get(c.props, "vpcId") for c in view.of_type(EKS_CLUSTER_COMPONENT))]
                    if isinstance(v, str) and v}
    why_perm = ("cilium-operator runs in kube-system with host networking; whoever compromises it, or can "
                "mint a token for its service account, gets every right of its IRSA role across the account, "
                "far beyond managing this cluster's pod ENIs")
    why_scope = ("an ENI write outside the cluster's VPC, or on ENIs that are not the operator's, lets whoever "
                 "holds the operator's token move other workloads' network interfaces and addresses in the account")
    scope_fix = ("keep each write to the resource types and conditions ENI_WRITE_SCOPES names (the cluster's VPC as "
                 "ArnEquals ec2:Vpc, the operator's ENI tags, tag-on-create only), as policy_document "
                 "(cilium_eks/operator_iam.py) builds them from the cluster's VPC")
    perm_fix = ("grant only the EC2 actions of ACTIONS_ALWAYS/ACTIONS_CONDITIONAL "
                "(cilium_eks/operator_iam.py), as policy_document does, or add a reviewed action "
                "to this policy's allowedActions config")

    for rel in (r for r in view.resources if is_cilium_release(r.resource_type, r.props)):
        values = get(rel.props, "values", {})
        if values is UNKNOWN:
            deferred.unknown(f"{rel.name}.values")
            continue
        namespace = get(rel.props, "namespace", CILIUM_NAMESPACE)
        namespace = namespace if isinstance(namespace, str) else CILIUM_NAMESPACE
        role_arn = path(values, "eni.iamRole")
        ownership_tags = eni_ownership_tags(plain(values))
        subject = f"system:serviceaccount:{namespace}:{OPERATOR_SERVICE_ACCOUNT}"
        roles = _operator_roles(rel, role_arn, subject, roles_all)
        if not roles and role_arn is UNKNOWN:
            deferred.unknown(f"{rel.name}.values.eni.iamRole")
        elif not roles and isinstance(role_arn, str) and role_arn:
            report_violation(explain(
                f"Cilium release {rel.name} gives cilium-operator the IAM role {role_arn}, which this stack "
                "does not declare.",
                f"its permissions and trust cannot be checked; {why_perm}",
                "create the operator role in the Cilium component (components/cilium.py) and pass its ARN as "
                "eni.iamRole"), rel.urn)
        elif not roles and path(values, "eni.enabled") is True:
            report_violation(explain(
                f"Cilium release {rel.name} gives cilium-operator no IAM role (eni.iamRole is not set).",
                "the operator then falls back to the node instance role, which would need ENI write "
                "access on every node: any pod escaping to a node could rewire the VPC",
                "create the operator role with IRSA and pass its ARN as eni.iamRole (components/cilium.py)"),
                rel.urn)
        for role in roles:
            trust = json_document(get(role.props, "assumeRolePolicy"))
            if trust is UNKNOWN:
                deferred.unknown(f"{role.name}.assumeRolePolicy")
            elif trust is None:
                report_violation(explain(
                    f"IAM role {role.name} of cilium-operator has no readable trust policy.",
                    "its trust cannot be verified to be limited to the operator's service account",
                    "build it with irsa_trust_policy (cilium_eks/operator_iam.py)"), role.urn)
            else:
                for problem in _trust_problems(trust, namespace):
                    report_violation(explain(
                        f"The trust policy of cilium-operator's IAM role {role.name} {problem}.",
                        "any identity it admits gets the operator's rights over every ENI of the VPC",
                        f"trust only the cluster's OIDC provider for sts:AssumeRoleWithWebIdentity with "
                        f"StringEquals <issuer>:sub = {subject} and <issuer>:aud = sts.amazonaws.com "
                        "(irsa_trust_policy in cilium_eks/operator_iam.py)"), role.urn)

            documents: list[tuple[PolicyResource, str, Any]] = []
            for inline in elements(get(role.props, "inlinePolicies")):
                documents.append((role, f"inline policy {get(inline, 'name', '')}", get(inline, "policy")))
            for rp in view.of_type(IAM_ROLE_POLICY):
                if _linked(rp, "role", role):
                    documents.append((rp, f"role policy {rp.name}", get(rp.props, "policy")))
            arns: list[tuple[PolicyResource, Any, list[PolicyResource]]] = [
                (role, arn, []) for arn in as_list(get(role.props, "managedPolicyArns"))]
            for att in view.of_type(IAM_ROLE_POLICY_ATTACHMENT):
                if _linked(att, "role", role):
                    arns.append((att, get(att.props, "policyArn"), att.property_dependencies.get("policyArn", [])))
            for att in view.of_type(IAM_POLICY_ATTACHMENT):
                if _linked(att, "roles", role):
                    arns.append((att, get(att.props, "policyArn"), att.property_dependencies.get("policyArn", [])))
            for owner, arn, deps in arns:
                declared = [p for p in policies if any(d.urn == p.urn for d in deps) or (
                    isinstance(arn, str) and arn == get(p.props, "arn"))]
                if declared:
                    documents += [(p, f"policy {p.name}", get(p.props, "policy")) for p in declared]
                elif arn is UNKNOWN:
                    deferred.unknown(f"{owner.name}.policyArn")
                else:
                    report_violation(explain(
                        f"cilium-operator's IAM role {role.name} is attached policy {arn}, which this stack "
                        "does not declare (an AWS-managed or external policy).",
                        f"its permissions cannot be checked and managed policies grant far more than the "
                        f"ENI actions; {why_perm}",
                        f"attach only the stack's own ENI policy; {perm_fix}"), owner.urn)
            for owner, what, text in documents:
                doc = json_document(text)
                if doc is UNKNOWN:
                    deferred.unknown(f"{owner.name}.policy")
                    continue
                for problem in _policy_problems(doc, allowed) if doc is not None else ["is not a JSON policy"]:
                    report_violation(explain(
                        f"The {what} of cilium-operator's IAM role {role.name} {problem}.", why_perm, perm_fix),
                        owner.urn)
                for problem in _scope_problems(doc, ownership_tags, cluster_vpcs) if doc is not None else []:
                    report_violation(explain(
                        f"The {what} of cilium-operator's IAM role {role.name} {problem}.", why_scope, scope_fix),
                        owner.urn)
    deferred.finish()
