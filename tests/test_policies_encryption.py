"""traffic-encrypted: the committed prod stack passes it, and turning encryption off (or to a type that
does not encrypt pod traffic) in its Cilium release makes that rule, and only that rule, fire:
mandatory in production, advisory in development."""

from __future__ import annotations

import pytest

from policies import guardrails as rules
from tests.test_policies import assert_only, baseline, mutable, release
from tooling import mockengine
from tooling.policy_adapter import evaluate
from tooling.stackfiles import stack_config


def test_the_rule_is_registered_right_after_stack_config_valid_with_the_production_level():
    names = [r.name for r in rules.all_rules()]
    assert names.index("traffic-encrypted") == names.index("stack-config-valid") + 1
    production = {r.name: r for r in rules.all_rules()}["traffic-encrypted"]
    development = {r.name: r for r in rules.all_rules(rules.StackContext(environment="development"))}[
        "traffic-encrypted"]
    assert production.level == rules.MANDATORY and development.level == rules.ADVISORY


def test_the_encrypted_prod_stack_passes():
    assert baseline("prod").of("traffic-encrypted") == []


@pytest.mark.parametrize(("change", "fragment"), [
    ({"enabled": False}, "does not encrypt traffic between nodes (encryption.enabled=False)"),
    ({"type": "ztunnel"}, "sets encryption.type='ztunnel'"),
    (None, "does not encrypt traffic between nodes (encryption.enabled=False)"),
], ids=["disabled", "ztunnel", "no-encryption-values"])
def test_prod_without_encryption_is_refused(change: dict[str, object] | None, fragment: str):
    graph = mutable("prod")
    values = release(graph).inputs["values"]
    if change is None:
        del values["encryption"]
    else:
        values["encryption"].update(change)
    (v,) = assert_only("prod", evaluate(graph), "traffic-encrypted", fragment, "`cilium-eks:ciliumEncryption`",
                       "UDP 51871")
    assert v.urn == release(graph).urn


def test_ipsec_counts_as_encrypted():
    graph = mutable("prod")
    release(graph).inputs["values"]["encryption"] = {"enabled": True, "type": "ipsec"}
    assert evaluate(graph).of("traffic-encrypted") == []


def test_dev_without_encryption_is_advisory_and_turning_it_on_silences_it():
    (v,) = baseline("dev").of("traffic-encrypted")
    assert v.level == "advisory" and "ciliumEncryption" in v.message
    graph = mutable("dev")
    release(graph).inputs["values"]["encryption"] = {"enabled": True, "type": "wireguard"}
    assert evaluate(graph).of("traffic-encrypted") == []


def test_the_same_dev_graph_in_a_production_stack_is_mandatory():
    production = {**stack_config("dev"), "cilium-eks:environment": "production"}
    [v] = evaluate(mutable("dev"), stack_config=production).of("traffic-encrypted")
    assert v.level == "mandatory"


def test_values_unknown_in_a_preview_are_left_undecided():
    graph = mutable("prod")
    release(graph).inputs["values"]["encryption"]["enabled"] = mockengine.UNKNOWN
    ev = evaluate(graph)
    assert [v for v in ev.of("traffic-encrypted") if not v.undecided] == []
    (note,) = [v for v in ev.of("traffic-encrypted") if v.undecided]
    assert note.level == "advisory" and "encryption.enabled" in note.message
