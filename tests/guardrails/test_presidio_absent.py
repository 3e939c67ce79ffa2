"""Presidio is not installed here (and must not be: it needs model downloads)."""

import importlib.util

from guardrails.detectors import available, build
from registry.policy_spec import RuleSpec


def test_presidio_is_not_installed_in_this_environment():
    assert importlib.util.find_spec("presidio_analyzer") is None


def test_person_and_location_are_reported_unavailable():
    assert available()["person"] is False
    assert available()["location"] is False


def test_pattern_detectors_are_available_without_presidio():
    assert all(ok for name, ok in available().items() if name not in ("person", "location"))


def test_an_unavailable_detector_builds_and_finds_nothing():
    detector = build(RuleSpec("person", "mask"))
    assert detector.active is False
    assert detector.find("Angela Merkel met Emmanuel Macron in Paris.") == []
    assert detector.hold_from("Angela Mer") == len("Angela Mer")
