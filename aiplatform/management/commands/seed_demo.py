"""Seed the demo: a platform admin, a demo team. Safe to run again."""

from __future__ import annotations

import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from aiplatform import services
from aiplatform.models import Membership, Tenant, User
from aiplatform.roles import PlatformRole, Region, TenantRole

ADMIN_EMAIL = "admin@example.com"
DEMO_TENANT_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the demo admin (admin@example.com) and the demo team; idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "")
        admin = User.objects.filter(email=ADMIN_EMAIL).first()
        shown_password = None
        if admin is None:
            shown_password = password or secrets.token_urlsafe(12)
            admin = User.objects.create_user(ADMIN_EMAIL, shown_password, full_name="Demo Admin")
            self._verified_email(admin)
        elif password:
            admin.set_password(password)
            admin.save(update_fields=["password"])
            shown_password = password
        services.grant_platform_role(actor=None, user=admin, role=PlatformRole.PLATFORM_ADMIN)

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
                seed(admin=admin, tenant=tenant, stdout=self.stdout)

        if shown_password and not password:
            self.stdout.write(self.style.WARNING(
                f"Demo admin: {ADMIN_EMAIL} / password: {shown_password}  (shown once; set DEMO_ADMIN_PASSWORD to choose it)"
            ))
        elif shown_password:
            self.stdout.write(f"Demo admin: {ADMIN_EMAIL} (password from DEMO_ADMIN_PASSWORD)")
        else:
            self.stdout.write(f"Demo admin {ADMIN_EMAIL} exists; password unchanged (set DEMO_ADMIN_PASSWORD to reset it).")

    @staticmethod
    def _verified_email(user: User) -> None:
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
