"""Registering and changing applications."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from portal.models import Application, DataClassification, Environment
from portal.services.transitions import check_permission

FIELDS = ("name", "description", "owner", "data_classification", "environment")


def _audit_fields(app: Application) -> dict:
    return {"name": app.name, "description": app.description, "owner": app.owner.email if app.owner else None,
            "data_classification": app.data_classification, "environment": app.environment}


def _validate(app: Application) -> None:
    app.name = (app.name or "").strip()
    if app.owner is not None and not app.owner.memberships.filter(tenant_id=app.tenant_id).exists():
        raise ValidationError({"owner": "The owner must be a member of the team."})
    if Application.objects.filter(tenant_id=app.tenant_id, name__iexact=app.name).exclude(pk=app.pk).exists():
        raise ValidationError({"name": f"The team already has an application called {app.name!r}."})
    app.full_clean(exclude=["tenant"], validate_unique=False)


def create_application(
    *,
    actor: User | None,
    tenant: Tenant,
    name: str,
    description: str = "",
    owner: User | None = None,
    data_classification: str = DataClassification.INTERNAL,
    environment: str = Environment.DEV,
) -> Application:
    """Register an application of ``tenant``; its owner defaults to the actor."""
    check_permission(actor, "application.manage", tenant)
    with transaction.atomic():
        app = Application(tenant=tenant, name=name, description=description, owner=owner or actor,
                          data_classification=data_classification, environment=environment)
        _validate(app)
        app.save()
        record_event(action="application.create", actor=actor, target=app, changes=_audit_fields(app))
        return app


def update_application(*, actor: User | None, application: Application, **fields) -> Application:
    """Change name, description, owner, data classification or environment (keys' grants follow)."""
    check_permission(actor, "application.manage", application)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown application fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        before = _audit_fields(application)
        for field, value in fields.items():
            setattr(application, field, value)
        _validate(application)
        application.save()
        after = _audit_fields(application)
        diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if diff:
            record_event(action="application.update", actor=actor, target=application, changes=diff)
            config_version.bump("keys")  # environment and classification travel with every key
        return application
