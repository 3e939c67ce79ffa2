"""Issue an API key for a team's application, creating what is missing (operators and tests)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from aiplatform import services as core_services
from aiplatform.models import Tenant
from portal import services
from portal.models import Application
from registry.models import ModelAlias

REASON = "granted by the create_api_key command"


class Command(BaseCommand):
    help = ("Create an API key for --app of --tenant that may call --models. Creates the team, the application "
            "and approved subscriptions (approver: system) when missing, all audited. Prints the key once.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Team slug (created if missing).")
        parser.add_argument("--app", required=True, help="Application name (created if missing).")
        parser.add_argument("--models", required=True, help="Comma-separated model aliases, e.g. demo-chat,demo-embed.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="The key expires after N days.")
        parser.add_argument("--name", default="", help="A label for the key.")
        parser.add_argument("--json", action="store_true", dest="as_json", help='Print only {"key": "...", "key_id": "..."}.')

    def handle(self, *args, tenant: str, app: str, models: str, expires_in_days: int | None, name: str,
               as_json: bool, **options):
        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise CommandError("Name at least one model alias with --models.")
        aliases = {a.name: a for a in ModelAlias.objects.filter(name__in=names)}
        unknown = [n for n in names if n not in aliases]
        if unknown:
            raise CommandError(f"Unknown model alias(es): {', '.join(unknown)}. Nothing was created. "
                               f"Known aliases: {', '.join(ModelAlias.objects.values_list('name', flat=True)) or 'none'}.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            with transaction.atomic():
                team = Tenant.objects.filter(slug=tenant).first() or core_services.create_tenant(
                    actor=None, slug=tenant, name=tenant.replace("-", " ").title())
                application = Application.objects.filter(tenant=team, name=app).first() or \
                    services.create_application(actor=None, tenant=team, name=app,
                                                description="Created by the create_api_key command.")
                for alias_name in names:
                    services.grant_subscription(application=application, alias=aliases[alias_name], reason=REASON)
                key, secret = services.create_api_key(actor=None, application=application, name=name,
                                                      expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if as_json:
            self.stdout.write(json.dumps({"key": secret, "key_id": str(key.pk)}))
            return
        self.stdout.write(f"Key {key.pk} for {application.name} ({team.slug}), models: {', '.join(names)}"
                          + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""))
        self.stdout.write("The key is shown this once; store it now:")
        self.stdout.write(secret)

