"""The guardrail detectors' quality on the labelled prompt set (issue 14, "Bad input and limits").

Not a test (``tests/guardrails/test_labelled_prompts.py`` asserts the bounds): it prints, for the baseline
policy's input rules, per detector the false-block rate (benign prompts it would block), the false-flag
rate (benign prompts it fires on that are not labelled as containing what it finds: for a mask rule, text
masked needlessly) and the miss rate (sensitive prompts labelled with it that it does not fire on), then
the prompts behind every false block and every miss.

    .venv/bin/python bench/guard_quality.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardrails.baseline import baseline_rules  # noqa: E402
from guardrails.labelled import measure  # noqa: E402


def main() -> None:
    rules = baseline_rules("input")
    q = measure(rules)
    print(f"labelled set: {q.benign} benign, {q.sensitive} sensitive prompts; baseline input rules\n")
    print(f"{'detector':<22}{'action':>8}{'false block':>14}{'false flag':>13}{'miss':>14}")
    for r in rules:
        d = r.detector
        fb = q.false_blocks[d] / q.benign
        ff = q.false_flags[d] / q.benign
        miss = f"{q.misses[d]}/{q.expected[d]}" if q.expected[d] else "-"
        print(f"{d:<22}{r.action:>8}{fb:>13.1%}{ff:>13.1%}{miss:>14}")
    print(f"\nbenign prompts blocked: {len(q.blocked_benign)}/{q.benign} = {q.false_block_rate:.1%} (aim: <= 1 %)")
    print(f"sensitive misses: {sum(q.misses.values())}/{sum(q.expected.values())} expected detections = "
          f"{q.miss_rate:.1%}")
    for p, blocks in q.blocked_benign:
        print(f"\nFALSE BLOCK by {', '.join(blocks)}: {p.text[:160]!r}")
    for p, flags in q.flagged_benign:
        print(f"\nfalse flag by {', '.join(flags)}: {p.text[:160]!r}")
    for p, missing in q.missed:
        print(f"\nMISS {', '.join(missing)}: {p.text[:160]!r}")


if __name__ == "__main__":
    main()
