"""Reconcile the usage rollups with the ledger by hand: prove they are equal, and rebuild what is not."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from portal import rollups

NAMES = {rollups.HOUR: "hourly", rollups.DAY: "daily"}
SHOWN_DIFFERENCES = 50  # a backfill differs in every row; the counts say the rest


def parse_moment(value: str, option: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC unless it names its offset)."""
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time())
    except ValueError as exc:  # well formed but impossible, e.g. 2026-02-30
        raise CommandError(f"{option} {value!r}: {exc}") from exc
    if moment is None:
        raise CommandError(f"{option} {value!r} is not an ISO date or datetime (2026-03-01 or 2026-03-01T10:00).")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _buckets(n: int) -> str:
    return f"{n} bucket" if n == 1 else f"{n} buckets"


class Command(BaseCommand):
    help = ("Prove that the hourly and daily usage rollups of a period equal the raw ledger, print every "
            "difference and rebuild the buckets that differ (with --check: report only, exit 1 if any differ). "
            "The default period is the last day. Buckets beyond the ledger's retention are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Start: an ISO date or datetime, UTC unless it says (default: a day before --until).")
        parser.add_argument("--until", help="End, exclusive (default: now).")
        parser.add_argument("--granularity", choices=["hour", "day", "both"], default="both")
        parser.add_argument("--check", action="store_true", help="Report differences without repairing them.")

    def handle(self, *args, since: str | None, until: str | None, granularity: str, check: bool, **options):
        end = parse_moment(until, "--until") if until else timezone.now()
        start = parse_moment(since, "--since") if since else end - timedelta(days=1)
        if start >= end:
            raise CommandError(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()}).")
        differing = 0
        for g in rollups.GRANULARITIES if granularity == "both" else (granularity,):
            report = rollups.reconcile(start, end, granularities=[g], repair=not check)
            self._print(g, start, end, report, check)
            differing += len({d.bucket_start for d in report.differences})
        if check and differing:
            raise CommandError(f"{differing} bucket(s) differ from the ledger; run without --check to rebuild them.")

    def _print(self, granularity: str, start: datetime, end: datetime, report: rollups.ReconcileReport,
               check: bool) -> None:
        name = NAMES[granularity]
        first, last = rollups.bucket_range(start, end, granularity)
        buckets = {d.bucket_start for d in report.differences}
        verdict = ("all equal the ledger" if not buckets else
                   f"{len(buckets)} differed" + ("" if check else f", {report.buckets_repaired} repaired"))
        line = f"{name}: {_buckets(report.buckets_checked)} checked from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC, {verdict}."
        self.stdout.write(self.style.SUCCESS(line) if not buckets else line)
        for difference in report.differences[:SHOWN_DIFFERENCES]:
            self.stdout.write(f"  {difference}")
        if len(report.differences) > SHOWN_DIFFERENCES:
            self.stdout.write(f"  ... and {len(report.differences) - SHOWN_DIFFERENCES} more differences.")
        if report.buckets_skipped:
            self.stdout.write(f"{name}: {_buckets(report.buckets_skipped)} skipped: older than the ledger's retention, "
                              "their rollups are the record.")
