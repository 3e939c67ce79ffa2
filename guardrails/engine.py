"""The dry-run: what one policy does to a pasted text, as the gateway would do it.

The same code as a call's (``Guard``): the input rules' findings, the text that would be sent upstream,
and what the caller would get back if the model echoed that text (the output rules, then un-masking).
Nothing is recorded or logged; the page shows the findings back to the person who pasted the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.detectors import available
from guardrails.effective import of_policy
from guardrails.guard import Blocked, Guard
from registry.policy_spec import PolicySpec


@dataclass(frozen=True, slots=True)
class DryRunFinding:
    """One match: ``start``/``end`` index the pasted text (input stage) or the upstream text (output stage)."""

    stage: str
    detector: str
    label: str
    action: str
    start: int
    end: int
    policy: str
    score: float = 1.0


@dataclass(slots=True)
class DryRun:
    findings: list[DryRunFinding] = field(default_factory=list)
    blocked: DryRunFinding | None = None
    upstream_text: str | None = None  # None: blocked before any upstream call
    caller_text: str | None = None  # None: blocked
    active: dict[str, bool] = field(default_factory=dict)
    decisions: list[dict] = field(default_factory=list)  # what the usage event would record


def _findings(guard: Guard, stage: str, text: str) -> list[DryRunFinding]:
    rules = guard.effective.input if stage == "input" else guard.effective.output
    return sorted((DryRunFinding(stage, applied.rule.detector, f.label, applied.action, f.start, f.end, applied.policy,
                                 f.score)
                   for f, applied in guard.findings(rules, text)), key=lambda f: (f.start, f.end))


def dry_run(policy: PolicySpec, text: str) -> DryRun:
    """What ``policy`` finds in ``text``, what would go upstream, and what the caller would get back."""
    guard = Guard(of_policy(policy))
    result = DryRun(active=available())
    result.findings = _findings(guard, "input", text)
    try:
        result.upstream_text = guard.input_text(text)
    except Blocked:
        result.blocked = next(f for f in result.findings if f.action == "block")
        result.decisions = guard.record()
        return result
    output_findings = _findings(guard, "output", result.upstream_text)
    result.findings += output_findings
    try:
        result.caller_text = guard.output_text(result.upstream_text)
    except Blocked:
        result.blocked = next(f for f in output_findings if f.action == "block")
    result.decisions = guard.record()
    return result
