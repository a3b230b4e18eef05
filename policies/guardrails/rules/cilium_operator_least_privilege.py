"""cilium-operator-least-privilege: the operator's IAM role grants only the ENI actions and trusts
only its service account."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
)

from ..core.cilium import NAMESPACE as CILIUM_NAMESPACE
from ..core.cilium import OPERATOR_SERVICE_ACCOUNT
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
    why_perm = ("cilium-operator runs in kube-system with host networking; whoever compromises it, or can "
                "mint a token for its service account, gets every right of its IRSA role across the account, "
                "far beyond managing this cluster's pod ENIs")
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
    deferred.finish()
