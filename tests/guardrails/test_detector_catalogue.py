import pytest

from guardrails.detectors import available, build, known
from registry.policy_spec import DETECTORS, RuleSpec


def test_build_knows_exactly_the_catalogue():
    assert known() == set(DETECTORS)


def test_every_catalogue_detector_builds():
    for name in DETECTORS:
        assert build(RuleSpec(name, "flag")).name == name


def test_unknown_detector_is_a_value_error():
    with pytest.raises(ValueError, match="unknown detector 'credit_card'"):
        build(RuleSpec("credit_card", "block"))


def test_build_is_cached_per_rule():
    rule = RuleSpec("deny_list", "block", terms=("falcon",))
    assert build(rule) is build(RuleSpec("deny_list", "block", terms=("falcon",)))


def test_rules_with_different_thresholds_get_different_detectors():
    assert build(RuleSpec("prompt_injection", "block", 0.3)).threshold == 0.3
    assert build(RuleSpec("prompt_injection", "block", 0.9)).threshold == 0.9


def test_available_reports_every_detector_from_the_catalogue():
    assert available() == {name: info.available for name, info in DETECTORS.items()}
