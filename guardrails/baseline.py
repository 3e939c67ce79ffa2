"""The platform's recommended default policy, ``baseline``, in the registry's file format.

Input: personal data that a model may legitimately need the shape of (e-mail, phone, IBAN, IP) is masked,
so the upstream sees ``<EMAIL_1>`` and the answer gets the value back (``unmask_output``); what no model
call needs and must never leave — card numbers, national ids and every kind of secret — blocks; prompt
injection blocks at the default threshold. Output: the same personal data is masked in answers (a value
the caller sent comes back through unmasking; one the model produced on its own stays masked). The
labelled set in ``tests/guardrails/prompts`` measures exactly these rules.
"""

from __future__ import annotations

from registry.policy_spec import DEFAULT_INJECTION_THRESHOLD, RuleSpec

BASELINE: dict = {
    "name": "baseline",
    "description": "Recommended default: mask contact and banking details, block cards, national ids, "
                   "secrets and prompt injection.",
    "input": [
        {"detector": "email", "action": "mask"},
        {"detector": "phone", "action": "mask"},
        {"detector": "iban", "action": "mask"},
        {"detector": "ip_address", "action": "mask"},
        {"detector": "payment_card", "action": "block"},
        {"detector": "national_id", "action": "block"},
        {"detector": "api_key", "action": "block"},
        {"detector": "private_key", "action": "block"},
        {"detector": "connection_password", "action": "block"},
        {"detector": "jwt", "action": "block"},
        {"detector": "prompt_injection", "action": "block", "threshold": DEFAULT_INJECTION_THRESHOLD},
    ],
    "output": [
        {"detector": "email", "action": "mask"},
        {"detector": "phone", "action": "mask"},
        {"detector": "iban", "action": "mask"},
        {"detector": "payment_card", "action": "mask"},
        {"detector": "national_id", "action": "mask"},
    ],
    "unmask_output": True,
}


def baseline_rules(stage: str) -> tuple[RuleSpec, ...]:
    """The baseline's rules of ``stage`` ("input" or "output") as the gateway runs them."""
    return tuple(RuleSpec(r["detector"], r["action"], r.get("threshold"), tuple(r.get("terms", ())))
                 for r in BASELINE[stage])
