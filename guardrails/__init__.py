"""Guardrails: the detectors, how the policies that apply to a call combine, and what they do to its text.

Pure Python (no Django, no I/O): the gateway runs it on the hot path (input guard, output guard, streams),
the portal runs the same code for the dry-run. Policies themselves are stored by the registry
(``registry.policy_spec`` is their plain-data form).
"""
