from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Developer portal"

    def ready(self) -> None:
        from portal import permissions  # noqa: F401  (registers the portal's actions)

    def seed_demo(self, *, admin, tenant, model_owner=None, stdout) -> None:
        """A demo application of the demo team, subscribed to the demo models (idempotent; no key is made)."""
        from portal.demo import seed_demo_application
        from portal.services.limits import seed_plans

        seed_plans()

        seed_demo_application(admin=admin, tenant=tenant, stdout=stdout)
