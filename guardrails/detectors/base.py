"""What every detector shares: the ``Finding`` record, the ``Detector`` protocol, and ``PatternDetector``.

Most detectors are "a regular expression finds candidates, a checksum or a rule keeps the real ones".
``PatternDetector`` runs such rules with two guards that keep it linear on any input: a candidate
regex is only run when one of its literal *needles* occurs in the text (a C-speed substring test), and
every candidate regex refuses to start inside a run of its own characters (``lead``: its first character
class, then a two-character negative look-behind), so it is tried once per run of candidate characters
rather than at every position inside the run (no quadratic rescans), with bounded quantifiers everywhere
(no catastrophic backtracking). Starting with a character class rather than the look-behind also lets
``re`` skip the positions that cannot start a match at C speed.

``hold_from`` (for the streaming output guard) is computed on a bounded window at the end of the text:
each detector names *tail* patterns, written reversed, that match the longest suffix that could still
grow into a match (the trailing run of address characters for e-mail, of digits and separators for
cards, a keyword and its incomplete value for passwords). A reversed, anchored ``match`` is linear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Finding:
    """``text[start:end]`` is what ``detector`` found; ``label`` a sub-kind safe to record, never the value."""

    detector: str
    start: int
    end: int
    score: float = 1.0
    label: str = ""


class Detector(Protocol):
    name: str

    def find(self, text: str) -> list[Finding]: ...

    def hold_from(self, text: str) -> int: ...


# A candidate regex's match -> the (start, end, label) of the finding, or None to reject it.
Validator = Callable[[re.Match[str]], "tuple[int, int, str] | None"]


@dataclass(frozen=True, slots=True)
class PatternRule:
    """One candidate regex: run when any of ``needles`` occurs in the text (lower-cased text when
    ``needles_lower``), each match kept when ``validate`` returns its span and label."""

    regex: re.Pattern[str]
    validate: Validator
    needles: tuple[str, ...] = ()
    needles_lower: bool = False


@dataclass(frozen=True, slots=True)
class Tail:
    """A reversed pattern matched at the start of the reversed window: its length is the held suffix."""

    reversed_regex: re.Pattern[str]
    window: int


def tail(pattern: str, window: int, flags: int = re.ASCII) -> Tail:
    return Tail(re.compile(pattern, flags), window)


def fold(text: str) -> str:
    """``text`` lower-cased without changing its length."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


def lead(first: str, edge: str) -> str:
    """Regex: one character of class ``first`` that is not preceded by one of class ``edge``."""
    return f"{first}(?<!{edge}{first})"


def non_overlapping(found: Iterable[Finding]) -> list[Finding]:
    """Sorted by start; of overlapping findings the one starting first (then the longest) is kept."""
    out: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if f.end <= f.start:
            continue
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


def hold_by_tails(text: str, tails: Sequence[Tail]) -> int:
    """The earliest index from which a tail pattern matches the end of ``text``; ``len(text)`` if none."""
    n = len(text)
    hold = n
    for t in tails:
        window = text[-t.window:] if t.window < n else text
        m = t.reversed_regex.match(window[::-1])
        if m and m.end():
            hold = min(hold, n - m.end())
    return hold


class PatternDetector:
    """A detector made of candidate rules and tail patterns (see the module docstring)."""

    def __init__(self, name: str, rules: Sequence[PatternRule], tails: Sequence[Tail]) -> None:
        self.name = name
        self.rules = tuple(rules)
        self.tails = tuple(tails)

    def find(self, text: str) -> list[Finding]:
        lowered: str | None = None
        found: list[Finding] = []
        for rule in self.rules:
            if rule.needles:
                if rule.needles_lower:
                    if lowered is None:
                        lowered = text.lower()
                    haystack = lowered
                else:
                    haystack = text
                if not any(n in haystack for n in rule.needles):
                    continue
            for m in rule.regex.finditer(text):
                kept = rule.validate(m)
                if kept is not None:
                    start, end, label = kept
                    found.append(Finding(self.name, start, end, 1.0, label))
        return non_overlapping(found)

    def hold_from(self, text: str) -> int:
        return hold_by_tails(text, self.tails)
