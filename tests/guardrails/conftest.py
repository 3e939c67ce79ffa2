"""Helpers for the detector tests: none of them needs the database."""

from __future__ import annotations

from guardrails.detectors import build
from registry.policy_spec import RuleSpec


def found(detector: str, text: str, **rule) -> list[str]:
    """What ``detector`` finds in ``text``, as the matched substrings."""
    return [text[f.start:f.end] for f in build(RuleSpec(detector, "block", **rule)).find(text)]


def labels(detector: str, text: str, **rule) -> list[str]:
    return [f.label for f in build(RuleSpec(detector, "block", **rule)).find(text)]
