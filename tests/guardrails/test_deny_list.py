from guardrails.detectors import build
from registry.policy_spec import RuleSpec
from tests.guardrails.conftest import found


def test_terms_match_case_insensitively_on_word_boundaries():
    text = "About Project Falcon and ACME, not acmeish or falconry."
    assert found("deny_list", text, terms=("project falcon", "acme", "falcon")) == ["Project Falcon", "ACME"]


def test_punctuation_is_a_boundary():
    assert found("deny_list", "(acme)-corp, acme_corp", terms=("acme",)) == ["acme"]


def test_the_longest_overlapping_term_wins():
    assert found("deny_list", "the falcon project plan", terms=("falcon", "falcon project")) == ["falcon project"]


def test_no_terms_find_nothing():
    assert found("deny_list", "anything at all", terms=()) == []


def test_offsets_survive_characters_whose_lower_case_is_longer():
    text = "İstanbul office: Falcon"  # 'İ'.lower() is two characters
    assert found("deny_list", text, terms=("falcon",)) == ["Falcon"]


def test_hold_from_keeps_a_possible_term_start():
    detector = build(RuleSpec("deny_list", "block", terms=("project falcon",)))
    assert detector.hold_from("we discussed proj") == len("we discussed ")
    assert detector.hold_from("we discussed the plan") == len("we discussed the plan")
