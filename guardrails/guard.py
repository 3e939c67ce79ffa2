"""One call's guard: runs a stage's rules over a text, masks, un-masks, blocks, and keeps the record.

A call gets one ``Guard``. Its vault gives each masked value a typed placeholder (``<EMAIL_1>``), the
same value the same placeholder everywhere in the call (a conversation resent turn by turn gets the same
placeholders each time, since they are numbered in order of first appearance). The output stage runs its
detectors on the model's text first, then, when the policy says so, puts back the values behind the
placeholders the input stage made; a value the output stage masks stays masked.

The record counts decisions by (policy, version, stage, detector, label, action); it never holds a value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from guardrails.detectors import Finding
from guardrails.effective import AppliedRule, Effective
from registry.policy_spec import BLOCK, FLAG, MASK

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)_(\d{1,6})>")
PARTIAL_PLACEHOLDER = re.compile(r"<[A-Z_]{0,24}\d{0,6}$")  # a placeholder's start at the end of a stream's text


class Blocked(Exception):
    """A rule with the ``block`` action fired. Carries what to name, never the text."""

    def __init__(self, *, policy: str, version: int, stage: str, detector: str, label: str) -> None:
        self.policy, self.version, self.stage, self.detector, self.label = policy, version, stage, detector, label
        where = "the request" if stage == "input" else "the answer"
        super().__init__(f"Blocked by policy '{policy}': {where} matched its {stage} rule '{detector}'.")


class Guard:
    """The guard of one call: its effective rules, its vault of masked values, and its record."""

    __slots__ = ("effective", "placeholders", "originals", "counters", "counts")

    def __init__(self, effective: Effective) -> None:
        self.effective = effective
        self.placeholders: dict[tuple[str, str], str] = {}  # (type, value) → placeholder
        self.originals: dict[str, str] = {}  # placeholder → value (input masks only: what un-masking restores)
        self.counters: Counter[str] = Counter()
        self.counts: Counter[tuple[str, int, str, str, str, str]] = Counter()

    # --- the record -------------------------------------------------------------------------------

    def note(self, *, policy: str, version: int, stage: str, detector: str, label: str, action: str,
             count: int = 1) -> None:
        self.counts[(policy, version, stage, detector, label, action)] += count

    def record(self) -> list[dict]:
        """Every decision that fired, counted: what the usage event and the audit trail keep."""
        return [{"policy": p, "version": v, "stage": s, "detector": d, "label": lab, "action": a, "count": n}
                for (p, v, s, d, lab, a), n in self.counts.items()]

    # --- masking ----------------------------------------------------------------------------------

    def placeholder_for(self, kind: str, value: str, *, restorable: bool) -> str:
        known = self.placeholders.get((kind, value))
        if known is None:
            self.counters[kind] += 1
            known = self.placeholders[(kind, value)] = f"<{kind}_{self.counters[kind]}>"
        if restorable:
            self.originals.setdefault(known, value)
        return known

    def unmask(self, text: str) -> str:
        if not self.originals or "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def redact(self, text: str) -> str:
        """``text`` with every value the input stage masked put back behind its placeholder (payload logging)."""
        for placeholder, value in self.originals.items():
            text = text.replace(value, placeholder)
        return text

    # --- one stage over one text ------------------------------------------------------------------

    def findings(self, rules: Sequence[AppliedRule], text: str) -> list[tuple[Finding, AppliedRule]]:
        found = []
        for applied in rules:
            for finding in applied.detector.find(text):
                found.append((finding, applied))
        return found

    def refuse_if_blocked(self, stage: str, found: list[tuple[Finding, AppliedRule]]) -> None:
        """Raise ``Blocked`` (and record it) for the first finding whose rule blocks."""
        for finding, applied in found:
            if applied.action == BLOCK:
                self.note(policy=applied.policy, version=applied.version, stage=stage,
                          detector=applied.rule.detector, label=finding.label, action=BLOCK)
                raise Blocked(policy=applied.policy, version=applied.version, stage=stage,
                              detector=applied.rule.detector, label=finding.label)

    def apply(self, stage: str, text: str, found: list[tuple[Finding, AppliedRule]] | None = None, *,
              unmask: bool = False) -> str:
        """``text`` after this stage's rules (raises ``Blocked``); ``found`` when already computed."""
        rules = self.effective.input if stage == "input" else self.effective.output
        if found is None:
            found = self.findings(rules, text) if rules and text else []
        if not found:
            return self.unmask(text) if unmask else text
        self.refuse_if_blocked(stage, found)
        masks = []
        for finding, applied in found:
            if applied.action == FLAG:
                self.note(policy=applied.policy, version=applied.version, stage=stage,
                          detector=applied.rule.detector, label=finding.label, action=FLAG)
            elif applied.action == MASK:
                masks.append((finding, applied))
        if not masks:
            return self.unmask(text) if unmask else text
        masks.sort(key=lambda pair: (pair[0].start, -pair[0].end))
        out, position = [], 0
        for finding, applied in masks:
            if finding.start < position:
                continue  # overlaps a longer match already masked
            before = text[position:finding.start]
            out.append(self.unmask(before) if unmask else before)
            value = text[finding.start:finding.end]
            position = finding.end
            if unmask and self.originals.get(self.placeholders.get((applied.placeholder, value), "")) == value:
                out.append(value)  # the caller's own value, which it may see again: as its placeholder would be
                continue
            out.append(self.placeholder_for(applied.placeholder, value, restorable=stage == "input"))
            self.note(policy=applied.policy, version=applied.version, stage=stage,
                      detector=applied.rule.detector, label=finding.label, action=MASK)
        rest = text[position:]
        out.append(self.unmask(rest) if unmask else rest)
        return "".join(out)

    def input_text(self, text: str) -> str:
        """A text the model will read, as it may be sent upstream."""
        return self.apply("input", text) if self.effective.input else text

    def output_text(self, text: str) -> str:
        """A text of the answer, as the caller may receive it."""
        unmask = self.effective.unmask_output and bool(self.originals)
        if not self.effective.output and not unmask:
            return text
        return self.apply("output", text, unmask=unmask)
