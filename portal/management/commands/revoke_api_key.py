"""Revoke an API key by id; every gateway process refuses it within about a second."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal import services
from portal.models import ApiKey


class Command(BaseCommand):
    help = "Revoke the API key KEY_ID (as printed by create_api_key)."

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="The key's id.")
        parser.add_argument("--reason", default="revoked by the revoke_api_key command")

    def handle(self, *args, key_id: str, reason: str, **options):
        if not key_id.isdigit():
            raise CommandError(f"{key_id!r} is not a key id (a number, as create_api_key prints it).")
        key = ApiKey.objects.filter(pk=int(key_id)).select_related("application").first()
        if key is None:
            raise CommandError(f"No API key with id {key_id}.")
        try:
            services.revoke_api_key(actor=None, key=key, reason=reason)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Revoked key {key.pk} ({key.key_prefix}…) of {key.application.name}.")
