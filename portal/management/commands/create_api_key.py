"""Issue an API key for a team's application, creating what is missing (operators and tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation

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
    help = ("Create an API key for --app of --tenant that may call --models (only those, even where the application "
            "is subscribed to more). Creates the team, the application "
            "and approved subscriptions (approver: system) when missing, all audited. Prints the key once.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Team slug (created if missing).")
        parser.add_argument("--app", required=True, help="Application name (created if missing).")
        parser.add_argument("--models", required=True, help="Comma-separated model aliases, e.g. demo-chat,demo-embed.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="The key expires after N days.")
        parser.add_argument("--name", default="", help="A label for the key.")
        parser.add_argument("--json", action="store_true", dest="as_json", help='Print only {"key": "...", "key_id": "..."}.')
        limits = parser.add_argument_group("limits of the key (every level applies: the application's plan too)")
        limits.add_argument("--plan", default=None, help="The plan the key follows (e.g. free, standard, premium).")
        limits.add_argument("--rpm", type=int, default=None, help="Requests per minute.")
        limits.add_argument("--tpm", type=int, default=None, help="Tokens per minute (prompt + completion).")
        limits.add_argument("--max-concurrency", type=int, default=None, help="Requests in flight at once.")
        limits.add_argument("--burst", type=int, default=None, help="Token-bucket burst, in requests.")
        limits.add_argument("--budget-usd", default=None, help="A spend budget in US dollars, e.g. 5 or 0.05.")
        limits.add_argument("--budget-period", choices=["day", "month"], default=None)
        limits.add_argument("--budget-mode", choices=["soft", "strict"], default=None,
                            help="soft (default): the call that crosses the budget completes; strict: never exceeded.")

    def handle(self, *args, tenant: str, app: str, models: str, expires_in_days: int | None, name: str,
               as_json: bool, **options):
        limits = _limit_values(options)
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
                # The key may call only these models, even when its application is subscribed to more.
                key, secret = services.create_api_key(actor=None, application=application, name=name,
                                                      expires_at=expires_at, allowed_aliases=names)
                if limits:
                    services.set_limits(actor=None, owner=key, values=limits)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if as_json:
            self.stdout.write(json.dumps({"key": secret, "key_id": str(key.pk)}))
            return
        self.stdout.write(f"Key {key.pk} for {application.name} ({team.slug}), models: {', '.join(names)}"
                          + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""))
        self.stdout.write("The key is shown this once; store it now:")
        self.stdout.write(secret)



def _limit_values(options: dict) -> dict:
    """The key's limits from the command line, checked before anything is created."""
    values: dict = {}
    for option, field in (("rpm", "requests_per_minute"), ("tpm", "tokens_per_minute"),
                          ("max_concurrency", "max_concurrency"), ("burst", "burst")):
        if options.get(option) is not None:
            if options[option] <= 0:
                raise CommandError(f"--{option.replace('_', '-')} must be a positive number.")
            values[field] = options[option]
    if options.get("plan") is not None:
        values["plan"] = options["plan"]
    budget, period, mode = options.get("budget_usd"), options.get("budget_period"), options.get("budget_mode")
    if (budget is None) != (period is None):
        raise CommandError("--budget-usd and --budget-period go together, e.g. --budget-usd 5 --budget-period day.")
    if mode is not None and budget is None:
        raise CommandError("--budget-mode needs --budget-usd and --budget-period.")
    if budget is not None:
        try:
            amount = Decimal(budget)
        except InvalidOperation:
            raise CommandError(f"--budget-usd must be an amount in dollars, not {budget!r}.") from None
        if not amount.is_finite() or amount < 0:
            raise CommandError("--budget-usd must be zero or more.")
        values[f"cost_per_{period}"] = amount
        if mode is not None:
            values["budget_mode"] = mode
    return values
