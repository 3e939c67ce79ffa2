"""Plans and the limits set on keys, subscriptions, applications, teams and models: every change audited.

A change bumps the ``keys`` config version, so every gateway process reloads its limit table
within about a second. Counters are keyed by the owner's id, never by the plan, so a change never
resets what was already used in the current window or period.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from portal.models import ApiKey, Application, LimitLevel, LimitSettings, Plan, Subscription
from portal.models.limits import LimitValues
from portal.services.transitions import check_permission
from registry.models import ModelAlias

SETTABLE = (*LimitValues.VALUE_FIELDS, "budget_mode", "redis_failure", "shadow")
_LEVEL_OF = {ApiKey: LimitLevel.KEY, Subscription: LimitLevel.SUBSCRIPTION, Application: LimitLevel.APPLICATION,
             Tenant: LimitLevel.TENANT, ModelAlias: LimitLevel.ALIAS}
# Keys and subscriptions only narrow what the application may do (every level applies), so their owners
# may set them; anything that widens or caps a whole application, team or model is a platform admin's.
_BUDGETS = ("tokens_per_day", "tokens_per_month", "cost_per_day", "cost_per_month")
_PERMISSION = {LimitLevel.KEY: "limits.narrow", LimitLevel.SUBSCRIPTION: "limits.narrow"}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _clean(instance: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SETTABLE) - {"plan"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a limit."})
    for name, value in values.items():
        setattr(instance, name, value)
    instance.full_clean(exclude=[f.name for f in instance._meta.fields if f.name not in values])
    return {name: getattr(instance, name) for name in values}


def set_limits(*, actor: User | None, owner: models.Model, values: dict[str, Any]) -> LimitSettings:
    """Set (or clear, with ``None``) limits on a key, subscription, application, team or model alias.

    ``values`` may hold any of the limit fields, ``budget_mode``, ``redis_failure``, ``shadow`` and (keys,
    subscriptions and applications) ``plan`` as a ``Plan`` or its name. Fields not named are left as they are.
    """
    level = _LEVEL_OF.get(type(owner))
    if level is None:
        raise TypeError(f"limits cannot be set on {type(owner).__name__}")
    check_permission(actor, _PERMISSION.get(level, "limits.manage"), owner if level != LimitLevel.ALIAS else None)
    values = dict(values)
    if "plan" in values:
        plan = values["plan"]
        if isinstance(plan, str):
            plan = Plan.objects.filter(name=plan).first() if plan else None
            if plan is None and values["plan"]:
                raise ValidationError({"plan": f"No plan is called {values['plan']!r}."})
        if plan is not None and level in (LimitLevel.TENANT, LimitLevel.ALIAS):
            raise ValidationError({"plan": "Teams and models have caps of their own, not a plan."})
        values["plan"] = plan
    if level == LimitLevel.ALIAS and any(values.get(name) is not None for name in _BUDGETS):
        raise ValidationError({next(n for n in _BUDGETS if values.get(n) is not None):
                               "A model's cap is a rate across every caller; budgets belong to keys, "
                               "subscriptions, applications and teams."})
    with transaction.atomic():
        settings_row, created = _locked_settings(level, owner)
        before = {} if created else {name: getattr(settings_row, name) for name in values}
        cleaned = _clean(settings_row, values)
        settings_row.updated_by = actor
        settings_row.save()
        changes = {name: (value.name if isinstance(value, Plan) else value) for name, value in cleaned.items()}
        record_event(action="limits.set", actor=actor, target=owner,
                     tenant=getattr(owner, "tenant", owner if level == LimitLevel.TENANT else None),
                     changes=_jsonable({**changes, "level": level,
                                        "before": _jsonable({k: (v.name if isinstance(v, Plan) else v)
                                                             for k, v in before.items()})}))
        config_version.bump("keys")
    return settings_row


def _locked_settings(level: str, owner: models.Model) -> tuple[LimitSettings, bool]:
    """The owner's settings row, created if missing, then locked for this transaction.

    ``select_for_update`` alone locks nothing while the row does not exist, so two first writes at once
    would both insert; here one inserts and the other meets the unique owner and just locks the row.
    """
    lookup = {level: owner}
    try:
        with transaction.atomic():
            _, created = LimitSettings.objects.get_or_create(**lookup, defaults={"level": level})
    except IntegrityError:
        created = False
    return LimitSettings.objects.select_for_update().get(**lookup), created


def create_plan(*, actor: User | None, name: str, **values: Any) -> Plan:
    """A new plan (platform admins)."""
    check_permission(actor, "limits.manage")
    plan = Plan(name=name)
    for field_name, value in values.items():
        setattr(plan, field_name, value)
    plan.full_clean()
    with transaction.atomic():
        plan.save()
        record_event(action="plan.create", actor=actor, target=plan,
                     changes=_jsonable({"name": name, **values}))
        config_version.bump("keys")
    return plan


def update_plan(*, actor: User | None, plan: Plan, values: dict[str, Any]) -> Plan:
    """Change a plan's limits; what was already counted stays counted (counters belong to the callers)."""
    check_permission(actor, "limits.manage")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        before = {name: getattr(plan, name) for name in values}
        for name, value in values.items():
            if name not in (*SETTABLE, "description", "default_output_tokens"):
                raise ValidationError({name: "Not a plan setting."})
            setattr(plan, name, value)
        plan.full_clean()
        plan.save()
        record_event(action="plan.update", actor=actor, target=plan,
                     changes=_jsonable({**values, "before": _jsonable(before)}))
        config_version.bump("keys")
    return plan


def seed_plans() -> list[Plan]:
    """Create the seeded plans that are missing (free, standard, premium; playground), as migrations 0005 and 0009 do.

    The demo seed calls it, so a database emptied by hand (or a test's flush) still has a default plan.
    """
    from importlib import import_module

    seeded = [*import_module("portal.migrations.0005_seed_plans").PLANS,
              import_module("portal.migrations.0009_playground").PLAYGROUND_PLAN]
    created = []
    for values in seeded:
        if not Plan.objects.filter(name=values["name"]).exists():
            created.append(create_plan(actor=None, **values))
    return created
