"""The output guard on a stream: release text as soon as no detector could still need it.

Each piece of the answer is appended to what is held; then every output detector says from where the
end of the held text could still become a match (``hold_from``), and so does un-masking for a placeholder
cut in two (``<EMA``). Text before the earliest of those points — and before any match that crosses it —
is decided now (masked, restored, or the stream blocked) and released; the rest waits for the next piece.
So the caller is at most the held suffix behind the model, no blocked byte reaches the caller before its
verdict, and a placeholder split across chunks comes back whole. At the end everything held is decided;
if the stream breaks off, what is held is never sent (fail closed).
"""

from __future__ import annotations

from guardrails.guard import PARTIAL_PLACEHOLDER, Guard


class StreamGuard:
    """Guards one stream of text (one choice's content, or one tool call's arguments)."""

    __slots__ = ("guard", "held", "unmask")

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.held = ""
        self.unmask = guard.effective.unmask_output and bool(guard.originals)

    @property
    def passes_through(self) -> bool:
        return not self.guard.effective.output and not self.unmask

    def feed(self, piece: str) -> str:
        """The text that may be sent now (possibly empty); raises ``Blocked``."""
        if self.passes_through:
            return piece
        text = self.held + piece
        rules = self.guard.effective.output
        cut = len(text)
        for applied in rules:
            cut = min(cut, applied.detector.hold_from(text))
        if self.unmask and (partial := PARTIAL_PLACEHOLDER.search(text, max(0, len(text) - 32))) is not None:
            cut = min(cut, partial.start())
        found = self.guard.findings(rules, text) if rules else []
        for finding, _ in found:
            if finding.start < cut < finding.end:
                cut = finding.start
        try:  # a block anywhere in what was seen, decided or not: nothing more is sent
            self.guard.refuse_if_blocked("output", found)
        except Exception:
            self.held = ""
            raise
        if cut <= 0:
            self.held = text
            return ""
        ready = [(f, a) for f, a in found if f.end <= cut]
        released = self.guard.apply("output", text[:cut], ready, unmask=self.unmask) if ready or self.unmask \
            else text[:cut]
        self.held = text[cut:]
        return released

    def finish(self) -> str:
        """The rest of the text, decided now the stream has ended; raises ``Blocked``."""
        if self.passes_through or not self.held:
            return ""
        text, self.held = self.held, ""
        return self.guard.apply("output", text, unmask=self.unmask)
