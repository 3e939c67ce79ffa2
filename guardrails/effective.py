"""Which rules a call runs: the policies that apply to it, combined in the documented order.

``registry.policy_spec`` states the order: for each detector the rule of the most specific applying
policy wins, but a ``block`` in any applying policy blocks; deny lists add up (each policy's terms are
its own); residency regions intersect; ``unmask_output`` and ``payload_logging`` come from the most
specific policy that sets them. ``allow`` rules run nothing: they exist to override a broader policy.

The gateway computes this once per (alias, team, classification, region) and snapshot, so a call pays
a dict read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from guardrails.detectors import Detector, build
from registry.policy_spec import ALLOW, BLOCK, DETECTORS, PAYLOAD_OFF, PolicySpec, RuleSpec


@dataclass(frozen=True, slots=True)
class AppliedRule:
    """One rule a call runs, with the policy (and version) it came from and its detector, built."""

    rule: RuleSpec
    policy: str
    version: int
    detector: Detector
    placeholder: str

    @property
    def action(self) -> str:
        return self.rule.action


@dataclass(frozen=True, slots=True)
class Effective:
    """What the guard steps and the router do for one caller and alias."""

    input: tuple[AppliedRule, ...] = ()
    output: tuple[AppliedRule, ...] = ()
    unmask_output: bool = False
    residency: frozenset[str] | None = None  # the endpoint regions this call may reach; None: anywhere
    residency_policies: tuple[str, ...] = ()  # the policies that restrict it (named in errors)
    payload_logging: str = PAYLOAD_OFF
    policies: tuple[str, ...] = ()  # every applying policy, most specific first

    @property
    def inspects(self) -> bool:
        return bool(self.input or self.output)


NOTHING = Effective()


def _stage(ordered: list[PolicySpec], stage: str) -> tuple[AppliedRule, ...]:
    chosen: dict[str, tuple[RuleSpec, PolicySpec]] = {}
    blocking: dict[str, tuple[RuleSpec, PolicySpec]] = {}
    deny: list[tuple[RuleSpec, PolicySpec]] = []
    for policy in ordered:  # most specific first
        for rule in getattr(policy, stage):
            if rule.detector == "deny_list":
                if rule.action != ALLOW:
                    deny.append((rule, policy))
                continue
            chosen.setdefault(rule.detector, (rule, policy))
            if rule.action == BLOCK:
                blocking.setdefault(rule.detector, (rule, policy))
    picked = [blocking.get(name, pair) for name, pair in chosen.items()]
    picked = [(rule, policy) for rule, policy in picked if rule.action != ALLOW] + deny
    applied = []
    for rule, policy in picked:
        info = DETECTORS[rule.detector]
        if not info.available:
            continue  # an NLP detector without its engine: the policy page says it is inactive
        applied.append(AppliedRule(rule, policy.name, policy.version, build(rule), info.placeholder))
    # Blocks first: a call that is refused is refused before any masking work.
    applied.sort(key=lambda a: a.action != BLOCK)
    return tuple(applied)


def effective(policies: Iterable[PolicySpec], *, alias: str, tenant: str, classification: str,
              region: str) -> Effective:
    """The combined rules of every policy that applies to a call of ``alias`` by this team and application."""
    ordered = sorted((p for p in policies if p.applies(alias=alias, tenant=tenant, classification=classification,
                                                       region=region)),
                     key=lambda p: (tuple(not s for s in p.specificity), p.name))
    if not ordered:
        return NOTHING
    restricting = [p for p in ordered if p.residency]
    residency = frozenset.intersection(*(p.residency for p in restricting)) if restricting else None
    unmask = next((p.unmask_output for p in ordered if p.unmask_output is not None), False)
    logging = next((p.payload_logging for p in ordered if p.payload_logging is not None), PAYLOAD_OFF)
    return Effective(input=_stage(ordered, "input"), output=_stage(ordered, "output"), unmask_output=unmask,
                     residency=residency, residency_policies=tuple(p.name for p in restricting),
                     payload_logging=logging, policies=tuple(p.name for p in ordered))


def of_policy(policy: PolicySpec) -> Effective:
    """Everything ``policy`` says, whoever calls (the dry-run's view of one policy)."""
    return Effective(input=_stage([policy], "input"), output=_stage([policy], "output"),
                     unmask_output=bool(policy.unmask_output), residency=policy.residency or None,
                     residency_policies=(policy.name,) if policy.residency else (),
                     payload_logging=policy.payload_logging or PAYLOAD_OFF, policies=(policy.name,))
