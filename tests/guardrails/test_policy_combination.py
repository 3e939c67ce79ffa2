"""How the policies that apply to a call combine: most specific wins per detector, a block anywhere blocks,
deny lists add up, residency regions intersect (registry.policy_spec documents the order)."""

from __future__ import annotations

import pytest

from guardrails.effective import NOTHING, effective
from guardrails.guard import Blocked, Guard
from registry.policy_spec import PolicySpec, RuleSpec

CALL = {"alias": "fast-chat", "tenant": "acme", "classification": "internal", "region": "eu"}


def _policy(name: str, *input_rules: RuleSpec, **given) -> PolicySpec:
    return PolicySpec(name=name, version=1, input=input_rules, **given)


def _run(*policies: PolicySpec, text: str, **call) -> str:
    return Guard(effective(policies, **{**CALL, **call})).input_text(text)


def test_no_applying_policy_costs_nothing():
    other = _policy("theirs", RuleSpec("email", "block"), tenants=frozenset({"globex"}))
    assert effective([other], **CALL) is NOTHING


def test_a_policy_applies_only_when_every_named_dimension_matches():
    both = _policy("both", RuleSpec("email", "mask"), aliases=frozenset({"fast-chat"}), regions=frozenset({"us"}))
    assert effective([both], **CALL) is NOTHING
    assert effective([both], **{**CALL, "region": "us"}).policies == ("both",)


def test_the_most_specific_policy_decides_a_detector():
    everyone = _policy("everyone", RuleSpec("email", "mask"))
    team = _policy("team", RuleSpec("email", "allow"), tenants=frozenset({"acme"}))
    assert _run(everyone, team, text="mail ann@corp.example") == "mail ann@corp.example"
    assert _run(everyone, team, text="mail ann@corp.example", tenant="globex") == "mail <EMAIL_1>"


def test_a_block_anywhere_blocks_even_where_a_more_specific_policy_masks():
    everyone = _policy("everyone", RuleSpec("email", "block"))
    alias = _policy("alias", RuleSpec("email", "mask"), aliases=frozenset({"fast-chat"}))
    with pytest.raises(Blocked) as blocked:
        _run(everyone, alias, text="mail ann@corp.example")
    assert blocked.value.policy == "everyone"
    assert "ann@" not in str(blocked.value)


def test_deny_lists_of_every_applying_policy_apply():
    one = _policy("one", RuleSpec("deny_list", "mask", terms=("project falcon",)))
    two = _policy("two", RuleSpec("deny_list", "block", terms=("codename heron",)), tenants=frozenset({"acme"}))
    assert _run(one, two, text="about Project Falcon") == "about <DENIED_1>"
    with pytest.raises(Blocked):
        _run(one, two, text="about codename heron")


def test_residency_regions_intersect_and_name_their_policies():
    europe = PolicySpec(name="gdpr", version=1, regions=frozenset({"eu"}), residency=frozenset({"eu", "uk"}))
    team = PolicySpec(name="acme-eu", version=2, tenants=frozenset({"acme"}), residency=frozenset({"eu"}))
    found = effective([europe, team], **CALL)
    assert found.residency == frozenset({"eu"})
    assert set(found.residency_policies) == {"gdpr", "acme-eu"}
    assert not found.inspects  # residency alone scans nothing


def test_unmask_and_payload_logging_come_from_the_most_specific_policy_that_sets_them():
    everyone = PolicySpec(name="everyone", version=1, unmask_output=True, payload_logging="metadata")
    team = PolicySpec(name="team", version=1, tenants=frozenset({"acme"}), unmask_output=False)
    found = effective([everyone, team], **CALL)
    assert (found.unmask_output, found.payload_logging) == (False, "metadata")


def test_the_same_value_gets_the_same_placeholder_within_a_call():
    guard = Guard(effective([_policy("p", RuleSpec("email", "mask"))], **CALL))
    first = guard.input_text("from ann@corp.example to bob@corp.example")
    second = guard.input_text("again ann@corp.example")
    assert (first, second) == ("from <EMAIL_1> to <EMAIL_2>", "again <EMAIL_1>")
    assert guard.record() == [{"policy": "p", "version": 1, "stage": "input", "detector": "email",
                               "label": "email", "action": "mask", "count": 3}]
