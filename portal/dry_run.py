"""The guardrails dry-run, for the page and the API: one policy's rules run on a pasted text, nothing kept.

``guardrails.engine.dry_run`` does what a call's guard would do; this module picks the policies a person may
try, reads an ad-hoc policy document, and shapes the result for people: each finding with the text it
matched, the pasted text cut into segments to highlight (the template escapes every one), what would be sent
upstream, and what the caller would get back (the answer, or the 403 error the gateway would send).
The pasted text is shown back to the person who pasted it and goes nowhere else: not to a log, not to the
database, not to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.engine import DryRun, DryRunFinding, dry_run
from guardrails.guard import Blocked
from registry.policy_document import canonical, from_yaml, spec_of
from registry.policy_spec import DETECTORS, PolicySpec
from registry.selectors import policy_table

MAX_TEXT_CHARS = 200_000
MAX_DOCUMENT_CHARS = 200_000
AD_HOC = "ad-hoc"  # the name an ad-hoc document's policy runs under


def reads_every_policy(user) -> bool:
    return bool(user.is_platform_admin or user.is_auditor)


def policies_for(user) -> list[PolicySpec]:
    """The enabled policies ``user`` may try: every one for platform admins and auditors; for team members,
    those that name no teams or name one of theirs (a policy naming only other teams is theirs to see)."""
    table = list(policy_table())
    if reads_every_policy(user):
        return table
    slugs = set(user.memberships.values_list("tenant__slug", flat=True))
    return [p for p in table if not p.tenants or p.tenants & slugs]


def policy_named(user, name: str) -> PolicySpec | None:
    return next((p for p in policies_for(user) if p.name == name), None)


def policy_from_document(text: str) -> PolicySpec:
    """An ad-hoc policy from a YAML (or JSON) document; ``PolicyDocumentInvalid`` naming every problem."""
    return spec_of(AD_HOC, 0, canonical(from_yaml(text)))


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding and the text it matched (in the pasted text for the input stage, else in the upstream text)."""

    stage: str
    detector: str
    detector_label: str  # the catalogue's description of the detector
    label: str
    action: str
    start: int
    end: int
    policy: str
    text: str


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the pasted text; ``finding`` set when a detector matched it."""

    text: str
    finding: Finding | None = None


@dataclass(slots=True)
class DryRunReport:
    policy: PolicySpec
    findings: list[Finding]
    segments: list[Segment]
    blocked: Finding | None
    upstream_text: str | None
    caller_text: str | None
    error: dict | None  # the error body the caller would get when blocked
    active: dict[str, bool] = field(default_factory=dict)

    @property
    def inactive(self) -> list[str]:
        return [name for name, on in self.active.items() if not on]


def run(policy: PolicySpec, text: str) -> DryRunReport:
    """Run ``policy`` on ``text`` as the gateway would, and shape the result for the page and the API."""
    result: DryRun = dry_run(policy, text)
    findings = [_finding(f, text if f.stage == "input" else (result.upstream_text or "")) for f in result.findings]
    blocked = next((f for f in findings if _same(f, result.blocked)), None) if result.blocked else None
    return DryRunReport(
        policy=policy, findings=findings, blocked=blocked,
        segments=segments(text, [f for f in findings if f.stage == "input"]),
        upstream_text=result.upstream_text, caller_text=result.caller_text if blocked is None else None,
        error=_error(result.blocked) if result.blocked else None, active=dict(result.active),
    )


def _finding(f: DryRunFinding, source: str) -> Finding:
    info = DETECTORS.get(f.detector)
    return Finding(stage=f.stage, detector=f.detector, detector_label=info.label if info else f.detector,
                   label=f.label, action=f.action, start=f.start, end=f.end, policy=f.policy,
                   text=source[f.start:f.end])


def _same(finding: Finding, raw: DryRunFinding | None) -> bool:
    return raw is not None and (finding.stage, finding.detector, finding.start, finding.end) == (
        raw.stage, raw.detector, raw.start, raw.end)


def _error(blocked: DryRunFinding) -> dict:
    """The body of the 403 the gateway answers a blocked call with: it names the rule, never the text."""
    message = str(Blocked(policy=blocked.policy, version=0, stage=blocked.stage, detector=blocked.detector,
                          label=blocked.label))
    return {"error": {"message": message, "type": "invalid_request_error", "code": "policy_violation",
                      "param": None}}


def segments(text: str, findings: list[Finding]) -> list[Segment]:
    """``text`` cut at the findings, left to right; a finding overlapping an earlier one is not highlighted
    again (it is still listed)."""
    out: list[Segment] = []
    at = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < at or f.end <= f.start:
            continue
        if f.start > at:
            out.append(Segment(text[at:f.start]))
        out.append(Segment(text[f.start:f.end], f))
        at = f.end
    if at < len(text):
        out.append(Segment(text[at:]))
    return out
