"""Seed the demo: a platform admin, a model owner, a demo team. Safe to run again."""

from __future__ import annotations

import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from aiplatform import services
from aiplatform.models import Membership, Tenant, User
from aiplatform.roles import PlatformRole, Region, TenantRole

ADMIN_EMAIL = "admin@example.com"
# The demo models' owner, outside the demo team: the one who approves the admin's requests (nobody
# approves their own), so the whole approval flow can be tried with the seed alone.
OWNER_EMAIL = "owner@example.com"
DEMO_TENANT_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the demo admin (admin@example.com), the demo model owner (owner@example.com) and the demo team; idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        admin, admin_said = self._account(ADMIN_EMAIL, "Demo Admin", "DEMO_ADMIN_PASSWORD", "Demo admin")
        services.grant_platform_role(actor=None, user=admin, role=PlatformRole.PLATFORM_ADMIN)
        owner, owner_said = self._account(OWNER_EMAIL, "Demo Model Owner", "DEMO_OWNER_PASSWORD",
                                          "Demo model owner (approves requests for the demo models)")
        services.grant_platform_role(actor=None, user=owner, role=PlatformRole.MODEL_OWNER)

        tenant = Tenant.objects.filter(slug=DEMO_TENANT_SLUG).first()
        if tenant is None:
            tenant = services.create_tenant(actor=None, slug=DEMO_TENANT_SLUG, name="Demo Team",
                                            region=Region.GLOBAL, cost_centre="DEMO-001", owner=admin)
        elif not Membership.objects.filter(tenant=tenant, user=admin).exists():
            services.add_member(actor=None, tenant=tenant, user=admin, role=TenantRole.OWNER)

        from django.apps import apps

        for app_config in apps.get_app_configs():  # later apps (registry, portal) add their demo data
            seed = getattr(app_config, "seed_demo", None)
            if seed is not None:
                seed(admin=admin, tenant=tenant, model_owner=owner, stdout=self.stdout)

        for said in (admin_said, owner_said):
            self.stdout.write(said)

    def _account(self, email: str, full_name: str, variable: str, what: str) -> tuple[User, str]:
        """The demo account (created with a verified address if missing) and the line that tells its password:
        the generated one is printed once; one from ``variable`` is never printed."""
        password = os.environ.get(variable, "")
        user = User.objects.filter(email=email).first()
        if user is None:
            shown = password or secrets.token_urlsafe(12)
            user = User.objects.create_user(email, shown, full_name=full_name)
            self._verified_email(user)
            if not password:
                return user, self.style.WARNING(
                    f"{what}: {email} / password: {shown}  (shown once; set {variable} to choose it)")
            return user, f"{what}: {email} (password from {variable})"
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
            return user, f"{what}: {email} (password from {variable})"
        return user, f"{what} {email} exists; password unchanged (set {variable} to reset it)."

    @staticmethod
    def _verified_email(user: User) -> None:
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
