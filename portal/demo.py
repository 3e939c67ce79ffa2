"""The portal's part of the demo seed: the demo team's application, subscribed to the demo models."""

from __future__ import annotations

from django.db import transaction

from portal import services
from portal.models import Application, AutoApprovalRule, DataClassification, Environment
from registry.models import ModelAlias

DEMO_APPLICATION = "demo-app"
DEMO_ALIASES = ("demo-chat", "demo-embed")


@transaction.atomic
def seed_demo_application(*, admin, tenant, stdout=None) -> Application | None:
    """Create (or leave as it is) the demo application and its subscriptions, and auto-approval of the
    demo models for development applications with internal data. No key: keys are shown once, so
    people create their own in the portal (or with ``create_api_key``)."""
    aliases = list(ModelAlias.objects.filter(name__in=DEMO_ALIASES))
    if not aliases:
        return None
    app = Application.objects.filter(tenant=tenant, name=DEMO_APPLICATION).first() or services.create_application(
        actor=None, tenant=tenant, name=DEMO_APPLICATION, owner=admin, environment=Environment.DEV,
        data_classification=DataClassification.INTERNAL, description="The demo team's sandbox application.")
    for alias in aliases:
        if not AutoApprovalRule.objects.filter(alias=alias).exists():
            services.create_auto_approval_rule(actor=None, alias=alias, environment=Environment.DEV,
                                               max_data_classification=DataClassification.INTERNAL)
        services.grant_subscription(application=app, alias=alias, reason="demo seed")
    if stdout is not None:
        stdout.write(f"Demo application: {app.name} ({', '.join(a.name for a in aliases)}).")
    return app
