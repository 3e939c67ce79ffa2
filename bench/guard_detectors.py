"""What each guardrail detector costs on a realistic 2,000-token prompt (issue 14, "Performance").

Not a test: it prints. For every detector, and for the baseline policy's input rules together (what the
gateway's input guard runs by default), the median of many calls of ``find`` on one prompt of mixed prose,
code and logs with a few personal data items (2,000 tokens by cl100k_base), in µs per call; then
``hold_from`` (the streaming guard's per-chunk question) on the prompt's last 4 kB; then each detector
on 1 MB adversarial strings (long runs of the characters its patterns are made of), to show time stays
linear. The aim: the pattern-and-checksum set under 2 ms together.

    .venv/bin/python bench/guard_detectors.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardrails.baseline import baseline_rules  # noqa: E402
from guardrails.detectors import build  # noqa: E402
from registry.policy_spec import DETECTORS, RuleSpec  # noqa: E402

PARAGRAPHS = [
    "Hi, I'm putting together the quarterly incident review for the payments platform and I need help "
    "turning my notes into something the leadership team can read in five minutes. The main themes were "
    "the database failover on 14 March, the slow rollout of version 4.18.2 of the checkout service, and "
    "the on-call load, which went up by roughly 30% compared with Q3. Please keep the tone factual.",
    "Here is the relevant part of the service configuration we use in staging:\n\n"
    "```python\nDATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n"
    "        'NAME': os.environ.get('DB_NAME', 'checkout'),\n        'USER': os.environ['DB_USER'],\n"
    "        'PASSWORD': os.environ['DB_PASSWORD'],\n        'HOST': 'db.staging.internal',\n"
    "        'PORT': 5432,\n        'CONN_MAX_AGE': 60,\n    }\n}\nCACHES = {'default': {'BACKEND': "
    "'django_redis.cache.RedisCache', 'LOCATION': 'redis://cache.staging.internal:6379/1'}}\n```",
    "And the log lines from the failover window (timestamps are UTC):\n\n```\n"
    "2026-03-14T02:11:07.412Z INFO  pgbouncer[2211]: stats: 1804 xact/s, 2210 query/s, in 1.2 MB/s\n"
    "2026-03-14T02:11:09.003Z WARN  checkout-7f9c6d7b5-x2x9q request_id=3f1c9a2e-5b7d-4e21-9c3a-8d2f1e6b7a90 "
    "upstream timeout after 2000ms host=10.42.7.19 path=/v2/orders/88213377/capture\n"
    "2026-03-14T02:11:09.118Z ERROR checkout-7f9c6d7b5-x2x9q psycopg.OperationalError: connection to server at "
    "\"db-primary.prod.internal\" (10.42.3.5), port 5432 failed: server closed the connection unexpectedly\n"
    "2026-03-14T02:11:12.550Z INFO  patroni: promoted replica db-replica-2 to primary, lag 0 bytes, sha "
    "9c1e4f2ab7d3e6f0a1b2c3d4e5f60718293a4b5c\n```",
    "The customer who reported it first was Maria Gonzalez (maria.gonzalez@example.org, +1 415 555 2671); "
    "she said the card form spun for a minute before failing. Her order 88213377 was retried manually. "
    "Please do not include her contact details in the summary, just say a customer reported it.",
    "For the rollout part: we shipped 4.18.0 on 2 March, found a regression in the tax calculation for "
    "orders with more than 50 line items, rolled back to 4.17.9, and shipped 4.18.2 on 9 March after adding "
    "a property-based test. The fix itself was a one-line change in `tax/rounding.py`, but the review took "
    "three days because the original author was on leave.",
    "Here is the traceback from the regression, trimmed:\n\n```\nTraceback (most recent call last):\n"
    "  File \"/srv/checkout/tax/service.py\", line 212, in compute\n    total = sum(round_half_even(l.amount "
    "* rate) for l in lines)\n  File \"/srv/checkout/tax/rounding.py\", line 18, in round_half_even\n"
    "    return Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)\n"
    "decimal.InvalidOperation: [<class 'decimal.InvalidOperation'>]\n```",
    "On-call: the pager fired 212 times in the quarter against 163 in Q3; 41% of pages were the "
    "`checkout-latency-p99` alert, which we now think is too sensitive. Proposed change: alert on p99 > "
    "1500 ms for 10 minutes instead of 5, and page only during business hours for the staging cluster. "
    "Please also suggest two or three concrete follow-ups with owners left blank.",
]


def prompt(tokens: int = 2000) -> str:
    from gateway.tokens import get_encoding  # noqa: PLC0415 - offline cl100k_base, only for the size

    enc = get_encoding("cl100k_base")
    text, i = "", 0
    while len(enc.encode(text)) < tokens:
        text += PARAGRAPHS[i % len(PARAGRAPHS)] + "\n\n"
        i += 1
    ids = enc.encode(text)[:tokens]
    return enc.decode(ids)


def median_us(fn, arg, runs: int) -> float:
    for _ in range(min(runs, 20)):
        fn(arg)
    samples = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        fn(arg)
        samples.append(time.perf_counter_ns() - t)
    return statistics.median(samples) / 1000


ADVERSARIAL = {
    "word chars": "a" * 1_000_000,
    "digits": "1" * 1_000_000,
    "digits and spaces": "1 " * 500_000,
    "dotted digits": "1.2." * 250_000,
    "at-signs and dots": "a@a." * 250_000,
    "hex and colons": "ab:" * 333_333,
    "base64url and dots": "eyJa." * 200_000,
    "PEM headers": "-----BEGIN PRIVATE KEY-----" * 37_000,
    "password fields": "Server=x;password=" * 55_000,
    "injection words": "ignore all previous " * 50_000,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--skip-adversarial", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

    text = prompt()
    print(f"prompt: {len(text):,} characters, 2,000 tokens (cl100k_base); median of {args.runs} runs\n")
    print(f"{'detector':<22}{'find µs':>10}{'hold_from µs':>14}{'findings':>10}")
    tail = text[-4096:]
    pattern_total = 0.0
    for name in DETECTORS:
        rule = RuleSpec(name, "block", terms=("project falcon", "acme corp", "internal only")
                        if name == "deny_list" else ())
        detector = build(rule)
        us = median_us(detector.find, text, args.runs)
        hold = median_us(detector.hold_from, tail, args.runs)
        if name not in ("person", "location"):
            pattern_total += us
        note = "" if DETECTORS[name].available else "  (not installed: inert)"
        print(f"{name:<22}{us:>10.1f}{hold:>14.1f}{len(detector.find(text)):>10}{note}")
    print(f"{'sum of the above':<22}{pattern_total:>10.1f}")

    rules = baseline_rules("input")
    detectors = [build(r) for r in rules]

    def baseline(t: str) -> int:
        return sum(len(d.find(t)) for d in detectors)

    us = median_us(baseline, text, args.runs)
    print(f"\nbaseline input policy ({len(rules)} rules: {', '.join(r.detector for r in rules)}):")
    print(f"  {us:,.1f} µs per 2,000-token prompt (aim: < 2,000 µs)")
    out_rules = baseline_rules("output")
    out_detectors = [build(r) for r in out_rules]
    us = median_us(lambda t: min(d.hold_from(t) for d in out_detectors), tail, args.runs)
    print(f"  output rules' hold_from on a 4 kB stream buffer: {us:,.1f} µs per chunk")

    if args.skip_adversarial:
        return
    print("\n1 MB adversarial inputs, seconds per find (linear time: ~1 MB of ordinary text costs about "
          f"{pattern_total * 1e6 / len(text) / 1e6:.2f} s summed over all detectors):")
    names = [n for n in DETECTORS if DETECTORS[n].available]
    print(f"{'input':<22}" + "".join(f"{n[:10]:>11}" for n in names))
    for label, adversarial in ADVERSARIAL.items():
        row = []
        for name in names:
            detector = build(RuleSpec(name, "block", terms=("ignore all", "a a")))
            t = time.perf_counter()
            detector.find(adversarial)
            row.append(time.perf_counter() - t)
        print(f"{label:<22}" + "".join(f"{s:>11.3f}" for s in row))


if __name__ == "__main__":
    main()
