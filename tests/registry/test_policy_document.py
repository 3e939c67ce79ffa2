"""A policy document is checked as a whole, every problem named by its path, and brought to one canonical form."""

from __future__ import annotations

import pytest
import yaml
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.policy_document import PolicyDocumentInvalid, canonical, from_yaml, spec_of
from registry.policy_spec import DETECTORS, RuleSpec, region_allowed

FULL = """
applies_to: {aliases: [fast-chat], regions: [us-ca, eu]}
input:
  - {detector: payment_card, action: block}
  - {detector: email, action: mask}
  - {detector: prompt_injection, action: block, threshold: 0.7}
  - {detector: deny_list, action: block, terms: ["project falcon", "Project Falcon", " orion "]}
output:
  - {detector: email, action: mask}
unmask_output: true
residency: {regions: [EU]}
payload_logging: off
"""


def _problems(doc) -> list[str]:
    with pytest.raises(PolicyDocumentInvalid) as refused:
        canonical(doc)
    return refused.value.messages


def test_a_full_document_takes_its_canonical_form():
    doc = canonical(yaml.safe_load(FULL))

    assert list(doc) == ["applies_to", "input", "output", "unmask_output", "residency", "payload_logging"]
    assert doc["applies_to"] == {"aliases": ["fast-chat"], "regions": ["eu", "us-ca"]}
    assert [r["detector"] for r in doc["input"]] == ["email", "payment_card", "prompt_injection", "deny_list"]
    assert doc["input"][3]["terms"] == ["project falcon", "orion"]
    assert doc["residency"] == {"regions": ["eu"]}
    assert doc["payload_logging"] == "off"


def test_the_canonical_form_is_its_own():
    doc = canonical(yaml.safe_load(FULL))

    assert canonical(doc) == doc


def test_the_empty_document_applies_to_every_call_and_does_nothing():
    assert canonical({}) == {}


def test_the_spec_is_what_the_gateway_reads():
    spec = spec_of("pii-basic", 3, canonical(yaml.safe_load(FULL)))

    assert spec.version == 3
    assert spec.aliases == frozenset({"fast-chat"})
    assert spec.input[2] == RuleSpec("prompt_injection", "block", threshold=0.7)
    assert spec.residency == frozenset({"eu"})
    assert spec.unmask_output is True


def test_a_spec_leaves_unset_what_the_document_does_not_set():
    spec = spec_of("empty", 1, {})

    assert spec.unmask_output is None
    assert spec.payload_logging is None
    assert spec.residency == frozenset()


def test_an_action_the_detector_does_not_allow_is_named_by_its_path():
    problems = _problems({"input": [{"detector": "email", "action": "mask"},
                                    {"detector": "prompt_injection", "action": "mask"}]})

    assert problems == ["input[1].action: 'mask' is not allowed for prompt_injection (allowed: allow, flag, block)"]


@pytest.mark.parametrize(("doc", "message"), [
    ({"inputs": []}, "inputs: unknown key"),
    ({"input": [{"detector": "email", "action": "mask", "why": 1}]}, "input[0].why: unknown key"),
    ({"input": [{"detector": "fingerprint", "action": "mask"}]}, "input[0].detector: unknown detector 'fingerprint'"),
    ({"input": [{"detector": "email"}]}, "input[0].action: is required"),
    ({"input": [{"detector": "email", "action": "shred"}]}, "input[0].action: 'shred' is not an action"),
    ({"output": [{"detector": "email", "action": "mask"}, {"detector": "email", "action": "block"}]},
     "output[1].detector: email has a rule already in output"),
    ({"input": [{"detector": "email", "action": "flag", "threshold": 0.5}]},
     "input[0].threshold: only prompt_injection takes a threshold"),
    ({"input": [{"detector": "prompt_injection", "action": "block", "threshold": 1.5}]},
     "input[0].threshold: must be a number from 0 to 1"),
    ({"input": [{"detector": "prompt_injection", "action": "block", "threshold": True}]},
     "input[0].threshold: must be a number from 0 to 1"),
    ({"input": [{"detector": "email", "action": "block", "terms": ["x"]}]}, "input[0].terms: only deny_list"),
    ({"input": [{"detector": "deny_list", "action": "block"}]}, "input[0].terms: is required for deny_list"),
    ({"input": [{"detector": "deny_list", "action": "block", "terms": []}]}, "input[0].terms: needs at least one"),
    ({"input": [{"detector": "deny_list", "action": "block", "terms": ["x" * 201]}]},
     "input[0].terms: a term is at most 200 characters"),
    ({"input": [{"detector": "deny_list", "action": "block", "terms": ["t"] * 10_001}]},
     "input[0].terms: lists at most 10000 terms"),
    ({"input": {"detector": "email"}}, "input: must be a list of rules"),
    ({"applies_to": {"classifications": ["secret"]}}, "applies_to.classifications: unknown secret"),
    ({"applies_to": {"regions": ["mars"]}}, "applies_to.regions: unknown mars"),
    ({"applies_to": {"teams": ["a"]}}, "applies_to.teams: unknown key"),
    ({"applies_to": {"aliases": "fast-chat"}}, "applies_to.aliases: must be a list of names"),
    ({"unmask_output": "yes"}, "unmask_output: must be true or false"),
    ({"payload_logging": "everything"}, "payload_logging: must be one of off, metadata, redacted, full"),
    ({"residency": {"regions": []}}, "residency.regions: must list the endpoint regions"),
    ({"residency": {"regions": ["eu west"]}}, "residency.regions: 'eu west': a region is a name"),
    ({"residency": ["eu"]}, "residency: must be a mapping"),
    ([], "(document): must be a mapping"),
])
def test_a_bad_document_is_refused_naming_the_path(doc, message):
    problems = _problems(doc)

    assert any(p.startswith(message) for p in problems), problems


def test_every_problem_is_named_at_once():
    problems = _problems({"input": [{"detector": "nope", "action": "mask"}], "payload_logging": 3, "extra": 1})

    assert len(problems) == 3


def test_the_refusal_is_a_django_validation_error():
    with pytest.raises(ValidationError):
        canonical({"input": 1})


def test_a_california_team_can_be_named():
    assert canonical({"applies_to": {"regions": ["us-ca"]}}) == {"applies_to": {"regions": ["us-ca"]}}


def test_a_document_that_is_not_yaml_is_refused_with_its_line():
    with pytest.raises(PolicyDocumentInvalid) as refused:
        from_yaml("input:\n  - {detector: email\n")

    assert refused.value.problems[0][0].startswith("line ")


@pytest.mark.parametrize(("endpoint_region", "allowed", "admitted"), [
    ("eu", {"eu"}, True),
    ("eu-west-1", {"eu"}, True),
    ("EU-Central-1", {"eu"}, True),
    ("europe-west1", {"eu"}, False),
    ("us-east-1", {"eu"}, False),
    ("us-ca", {"us"}, True),
    ("us-east-1", {"us-ca"}, False),
    ("eu-west-1", {"eu-west-1"}, True),
    ("eu-west-2", {"eu-west-1"}, False),
    ("", {"eu"}, False),
    ("eu", set(), False),
])
def test_residency_regions_admit_endpoint_regions_by_name(endpoint_region, allowed, admitted):
    assert region_allowed(endpoint_region, frozenset(allowed)) is admitted


# --- whatever it is given: a canonical document or a ValidationError, never another exception --------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                     st.sampled_from([*DETECTORS, "allow", "flag", "mask", "block", "off", "full", "eu", "us-ca",
                                      "public", "fast-chat"]))
_keys = st.sampled_from(["applies_to", "input", "output", "unmask_output", "residency", "payload_logging", "detector",
                         "action", "threshold", "terms", "regions", "aliases", "tenants", "classifications", "x"])
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(_keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_json)
def test_any_value_is_canonical_or_refused(doc):
    try:
        result = canonical(doc)
    except ValidationError:
        return
    assert canonical(result) == result
    spec_of("fuzzed", 1, result)
