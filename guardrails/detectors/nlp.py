"""Names of people and places, when Presidio (``presidio_analyzer``) is installed; inert without it.

Presidio needs a spaCy model, which is a download this platform does not make for you: install
``presidio-analyzer`` and a model (``python -m spacy download en_core_web_lg``) to turn these detectors
on. Without it, ``build`` still gives a detector for ``person`` and ``location`` (so a policy naming them
loads), one that finds nothing and says so (``active`` is False); ``available()`` reports it and the
policy page shows which detectors are active. Importing this module never imports Presidio: the
analyzer is created on first use, once per process.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

from .base import Finding

ENTITIES = {"person": "PERSON", "location": "LOCATION"}
MIN_SCORE = 0.5  # Presidio's confidence below which a name is not reported
LONGEST = 64  # characters held at a stream's end: a name still being written


def presidio_installed() -> bool:
    return importlib.util.find_spec("presidio_analyzer") is not None


@functools.cache
def _analyzer() -> Any:
    from presidio_analyzer import AnalyzerEngine  # noqa: PLC0415 - optional, heavy: only when installed and used

    return AnalyzerEngine()


class PresidioDetector:
    def __init__(self, name: str) -> None:
        self.name = name
        self.entity = ENTITIES[name]
        self.active = presidio_installed()

    def find(self, text: str) -> list[Finding]:
        if not self.active or not text.strip():
            return []
        try:
            results = _analyzer().analyze(text=text, entities=[self.entity], language="en")
        except Exception:  # noqa: BLE001 - an NLP failure must not take the request down; nothing is reported
            return []
        found = sorted((r for r in results if r.score >= MIN_SCORE), key=lambda r: (r.start, -r.end))
        out: list[Finding] = []
        for r in found:
            if out and r.start < out[-1].end:
                continue
            out.append(Finding(self.name, r.start, r.end, 1.0, self.entity.lower()))
        return out

    def hold_from(self, text: str) -> int:
        if not self.active:
            return len(text)
        start = len(text)
        floor = max(0, start - LONGEST)
        while start > floor and (text[start - 1].isalpha() or text[start - 1] in " .'-"):
            start -= 1
        return start
