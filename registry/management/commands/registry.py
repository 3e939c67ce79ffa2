"""``manage.py registry apply FILE.yaml [--dry-run] [--prune]`` and ``manage.py registry export``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.as_code import RegistryFileInvalid, apply_registry, dump_yaml, export_registry, load_yaml


class Command(BaseCommand):
    help = "Registry as code: make the registry match a YAML file, or print the registry as one."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        apply = sub.add_parser("apply", help="Make the registry match FILE and print the diff (one transaction).")
        apply.add_argument("file", help="A registry YAML file ('-' reads standard input).")
        apply.add_argument("--dry-run", action="store_true", help="Show the diff, change nothing.")
        apply.add_argument("--prune", action="store_true",
                           help="Also remove models, endpoints and providers the file does not mention.")
        sub.add_parser("export", help="Print the registry as YAML (secrets as their references).")

    def handle(self, *args, **options) -> None:
        if options["action"] == "export":
            self.stdout.write(dump_yaml(export_registry()), ending="")
            return
        self._apply(options["file"], dry_run=options["dry_run"], prune=options["prune"])

    def _apply(self, file: str, *, dry_run: bool, prune: bool) -> None:
        import sys

        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        try:
            result = apply_registry(load_yaml(text, file=file), file=file, prune=prune, dry_run=dry_run)
        except RegistryFileInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{file} was refused ({len(exc.problems)} problems); nothing was changed.") from None
        for change in result.changes:
            style = {"created": self.style.SUCCESS, "changed": self.style.WARNING, "removed": self.style.ERROR}
            self.stdout.write(style.get(change.action, str)(str(change)))
        self.stdout.write(result.summary)
