from django.core.management.base import BaseCommand, CommandError

from aiplatform.audit import verify_chain, write_checkpoint


class Command(BaseCommand):
    help = (
        "Check the audit trail's keyed hash chain against its latest signed checkpoint; report every "
        "modified, missing or re-hashed row and exit non-zero if there is any. An intact head is checkpointed."
    )

    def handle(self, *args, **options):
        report = verify_chain()
        for problem in report.problems:
            self.stderr.write(f"seq {problem.seq}: {problem.reason}")
        if not report.intact:
            raise CommandError(
                f"Audit trail broken: {len(report.problems)} problem(s) in {report.checked} rows checked."
            )
        anchor = report.anchor
        against = f" against the checkpoint of seq {anchor.seq} ({anchor.at})" if anchor else ""
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {report.checked} rows verified{against}."))
        if anchor is None:
            self.stdout.write("No earlier checkpoint: rows removed from the end before now would not show.")
        if report.head is not None and (anchor is None or anchor.seq != report.head.seq):
            write_checkpoint(report.head)
