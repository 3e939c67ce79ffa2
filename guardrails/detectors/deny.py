"""Deny-listed terms of a policy: case-insensitive, on word boundaries, any number of terms in one pass.

``pyahocorasick`` (Aho-Corasick, C) matches every term at once in time linear in the text, whatever
the number of terms. Case is folded with ``str.lower`` character by character where lowering would
change a length ("İ" lowers to two characters), so offsets in the folded text are offsets in the
original. A match counts when the characters on both sides are not letters, digits or ``_``; of
overlapping matches the earliest, then the longest, wins.
"""

from __future__ import annotations

import ahocorasick

from .base import Finding, fold, non_overlapping


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


class DenyListDetector:
    name = "deny_list"

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.terms = tuple(t for t in (fold(t.strip()) for t in terms) if t)
        self.longest = max((len(t) for t in self.terms), default=0)
        self._prefixes = frozenset(t[:i] for t in self.terms for i in range(1, len(t) + 1))
        self._automaton = ahocorasick.Automaton()
        for term in self.terms:
            self._automaton.add_word(term, len(term))
        if self.terms:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[Finding]:
        if not self.terms:
            return []
        folded = fold(text)
        n = len(folded)
        found = []
        for last, length in self._automaton.iter(folded):
            start, end = last - length + 1, last + 1
            if (start > 0 and _word(folded[start - 1])) or (end < n and _word(folded[end])):
                continue
            found.append(Finding(self.name, start, end, 1.0, "term"))
        return non_overlapping(found)

    def hold_from(self, text: str) -> int:
        """From the earliest word start whose rest is the beginning of a term (or a whole term, which more
        letters could still take off a word boundary)."""
        n = len(text)
        for start in range(max(0, n - self.longest), n):
            if start > 0 and _word(text[start - 1]) and _word(text[start]):
                continue
            if fold(text[start:]) in self._prefixes:
                return start
        return n
