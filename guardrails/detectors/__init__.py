"""The detectors: each finds one kind of sensitive text. ``build(rule)`` gives the detector a rule asks for.

Contract (the engine, ``guardrails.engine``, relies on exactly this):

- ``Finding(detector, start, end, score, label)``: ``text[start:end]`` is the match; ``label`` a sub-kind
  safe to record (``us_ssn``, ``aws_access_key``, ...), never the value; ``score`` 1.0 except for scored
  detectors (prompt_injection: the text's combined score).
- ``Detector.find(text) -> list[Finding]``: every match, sorted by start, not overlapping; for scored
  detectors only when the score reaches the rule's threshold.
- ``Detector.hold_from(text) -> int``: the index from which the end of ``text`` could still become (part of)
  a match if more text followed; ``len(text)`` when no suffix could. Streams release text only before it.
"""
