"""``manage.py sync_catalogue [--provider NAME ...]``: list vendor catalogues and show onboarding candidates."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.models import Provider
from registry.sync import syncable_providers
from registry.tasks import sync_catalogues


class Command(BaseCommand):
    help = "Sync vendor catalogues now (what the scheduled task does) and print new and vanished models."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", action="append", default=[], help="Only this provider (repeatable).")

    def handle(self, *args, **options) -> None:
        ids = None
        if options["provider"]:
            found = {p.name: p.pk for p in Provider.objects.filter(name__in=options["provider"])}
            missing = sorted(set(options["provider"]) - set(found))
            if missing:
                raise CommandError(f"Unknown provider: {', '.join(missing)}")
            ids = list(found.values())
        elif not syncable_providers().exists():
            self.stdout.write("No provider with a listable catalogue.")
            return
        failed = False
        for name, outcome in sync_catalogues(ids).items():
            if "error" in outcome:
                failed = True
                self.stderr.write(f"{name}: {outcome['error']}")
                continue
            self.stdout.write(f"{name}: {outcome['listed']} listed, {len(outcome['new'])} new, "
                              f"{len(outcome['vanished'])} vanished")
            for model_id in outcome["new"]:
                self.stdout.write(f"  + {model_id}")
            for model_id in outcome["vanished"]:
                self.stdout.write(f"  - {model_id}")
        if failed:
            raise CommandError("Some catalogues could not be listed.")
