"""The baseline policy on the labelled prompt set (tests/guardrails/prompts): what the README reports, held.

Benign prompts that merely look suspicious (code with ``password=`` placeholders, questions about security,
public figures' names) must almost never be blocked; truly sensitive ones must almost always be caught.
``bench/guard_quality.py`` prints the same figures per detector with the prompts behind each miss.
"""

from __future__ import annotations

from guardrails.baseline import baseline_rules
from guardrails.labelled import load, measure


def test_the_set_is_large_enough_to_mean_something():
    assert len(load("benign")) >= 300
    assert len(load("sensitive")) >= 150


def test_no_more_than_one_percent_of_benign_prompts_are_blocked():
    quality = measure(baseline_rules("input"))
    assert len(quality.blocked_benign) <= quality.benign // 100, [p.text for p, _ in quality.blocked_benign]


def test_every_detector_catches_what_it_is_labelled_for_but_for_a_few_injection_paraphrases():
    quality = measure(baseline_rules("input"))
    assert set(quality.expected) >= {"email", "phone", "iban", "payment_card", "national_id", "api_key",
                                     "private_key", "connection_password", "jwt", "prompt_injection"}
    pattern_misses = {d: n for d, n in quality.misses.items() if d != "prompt_injection" and n}
    assert pattern_misses == {}, [p.text for p, _ in quality.missed]
    assert quality.misses["prompt_injection"] <= quality.expected["prompt_injection"] // 10
