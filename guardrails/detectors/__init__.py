"""The detectors: each finds one kind of sensitive text. ``build(rule)`` gives the detector a rule asks for.

Contract (the engine, ``guardrails.engine``, relies on exactly this):

- ``Finding(detector, start, end, score, label)``: ``text[start:end]`` is the match; ``label`` a sub-kind
  safe to record (``us_ssn``, ``aws_access_key``, ...), never the value; ``score`` 1.0 except for scored
  detectors (prompt_injection: the text's combined score).
- ``Detector.find(text) -> list[Finding]``: every match, sorted by start, not overlapping; for scored
  detectors only when the score reaches the rule's threshold.
- ``Detector.hold_from(text) -> int``: the index from which the end of ``text`` could still become (part of)
  a match if more text followed; ``len(text)`` when no suffix could. Streams release text only before it.

Modules: ``base`` (``Finding``, ``Detector``, the pattern machinery), ``pii`` (email, phone, payment_card,
iban, ip_address), ``national_id``, ``secrets`` (api_key, private_key, connection_password, jwt),
``injection`` (prompt_injection), ``deny`` (deny_list), ``nlp`` (person, location: Presidio, when installed).
Every detector is linear in its input (bounded quantifiers, no nested ones, one attempt per run of candidate
characters; ``tests/guardrails/test_adversarial_input.py``), and never raises on any ``str``.
"""

from __future__ import annotations

import functools

from registry.policy_spec import DETECTORS, RuleSpec

from .base import Detector, Finding
from .deny import DenyListDetector
from .injection import InjectionDetector
from .national_id import NATIONAL_ID
from .nlp import PresidioDetector
from .pii import EMAIL, IBAN, IP_ADDRESS, PAYMENT_CARD, PHONE
from .secrets import API_KEY, CONNECTION_PASSWORD, JWT, PRIVATE_KEY

__all__ = ["Detector", "Finding", "available", "build", "known"]

# Detectors that do not depend on their rule: one instance each, shared.
_FIXED: dict[str, Detector] = {d.name: d for d in (
    EMAIL, PHONE, PAYMENT_CARD, NATIONAL_ID, IBAN, IP_ADDRESS, API_KEY, PRIVATE_KEY, CONNECTION_PASSWORD, JWT)}
_NLP = ("person", "location")


def known() -> frozenset[str]:
    """The detector names ``build`` knows (a test keeps them equal to ``registry.policy_spec.DETECTORS``)."""
    return frozenset(_FIXED) | frozenset(_NLP) | {"prompt_injection", "deny_list"}


@functools.lru_cache(maxsize=1024)
def build(rule: RuleSpec) -> Detector:
    """The detector ``rule`` asks for (cached per rule). Raises ``ValueError`` for an unknown detector name.

    ``person`` and ``location`` without Presidio give a detector that finds nothing (``active`` False).
    """
    name = rule.detector
    if name in _FIXED:
        return _FIXED[name]
    if name == "prompt_injection":
        return InjectionDetector(rule.threshold)
    if name == "deny_list":
        return DenyListDetector(tuple(rule.terms))
    if name in _NLP:
        return PresidioDetector(name)
    raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(known()))}")


def available() -> dict[str, bool]:
    """Per detector of the catalogue: whether it can run here (person and location need Presidio)."""
    return {name: info.available for name, info in DETECTORS.items()}
