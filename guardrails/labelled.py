"""The labelled prompt set and what the detectors make of it: shared by the test and the quality bench.

``tests/guardrails/prompts/benign.yaml`` and ``sensitive.yaml`` (see their headers) are run through a
policy's rules; for each detector this counts false blocks (a benign prompt it fires on, with ``block`` as
its action), false flags (a benign prompt it fires on although the prompt is not labelled as containing
what it finds) and misses (a sensitive prompt labelled with it that it does not fire on).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from registry.policy_spec import BLOCK, RuleSpec

from .detectors import build

PROMPTS = Path(__file__).resolve().parent.parent / "tests" / "guardrails" / "prompts"


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    labels: frozenset[str]  # benign: what it contains (firing is correct); sensitive: what must fire


def load(kind: str) -> list[Prompt]:
    """``kind`` "benign" or "sensitive"."""
    rows = yaml.safe_load((PROMPTS / f"{kind}.yaml").read_text())[kind]
    key = "contains" if kind == "benign" else "expect"
    return [Prompt(r["text"], frozenset(r.get(key, ()))) for r in rows]


@dataclass
class Quality:
    benign: int = 0
    sensitive: int = 0
    blocked_benign: list[tuple[Prompt, list[str]]] = field(default_factory=list)
    flagged_benign: list[tuple[Prompt, list[str]]] = field(default_factory=list)  # not blocked, but unlabelled hits
    false_blocks: Counter = field(default_factory=Counter)  # detector -> benign prompts it blocked
    false_flags: Counter = field(default_factory=Counter)  # detector -> benign prompts it fired on, unlabelled
    expected: Counter = field(default_factory=Counter)  # detector -> sensitive prompts labelled with it
    misses: Counter = field(default_factory=Counter)
    missed: list[tuple[Prompt, list[str]]] = field(default_factory=list)

    @property
    def false_block_rate(self) -> float:
        return len(self.blocked_benign) / self.benign if self.benign else 0.0

    @property
    def miss_rate(self) -> float:
        """Missed (prompt, detector) pairs over all expected pairs."""
        total = sum(self.expected.values())
        return sum(self.misses.values()) / total if total else 0.0


def fired(rules: tuple[RuleSpec, ...], text: str) -> dict[str, RuleSpec]:
    """The rules whose detector finds something in ``text``, by detector name."""
    return {r.detector: r for r in rules if build(r).find(text)}


def measure(rules: tuple[RuleSpec, ...]) -> Quality:
    q = Quality()
    for p in load("benign"):
        q.benign += 1
        hits = fired(rules, p.text)
        blocks = sorted(d for d, r in hits.items() if r.action == BLOCK)
        for d in blocks:
            q.false_blocks[d] += 1
        unlabelled = sorted(d for d in hits if d not in p.labels)
        for d in unlabelled:
            q.false_flags[d] += 1
        if blocks:
            q.blocked_benign.append((p, blocks))
        elif unlabelled:
            q.flagged_benign.append((p, unlabelled))
    for p in load("sensitive"):
        q.sensitive += 1
        hits = fired(rules, p.text)
        missing = sorted(d for d in p.labels if d not in hits)
        for d in p.labels:
            q.expected[d] += 1
        for d in missing:
            q.misses[d] += 1
        if missing:
            q.missed.append((p, missing))
    return q
