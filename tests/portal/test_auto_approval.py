"""Auto-approval rules: a matching request is approved at once, and "policy" is recorded as the approver."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from portal import services
from portal.models import SubscriptionStatus


@pytest.fixture
def rule(alias):
    return services.create_auto_approval_rule(actor=None, alias=alias, environment="dev",
                                              max_data_classification="internal")


@pytest.mark.smoke
def test_a_matching_request_is_approved_by_policy(rule, app, alias, developer):
    sub = services.request_subscription(actor=developer, application=app, alias=alias, use_case="Prototype")

    assert sub.status == SubscriptionStatus.APPROVED
    assert sub.decided_by is None and sub.decided_by_label == "policy"
    assert f"rule #{rule.pk}" in sub.decision_comment
    event = AuditEvent.objects.get(action="subscription.approve")
    assert event.actor_label == "policy" and event.actor is None


def test_a_prod_application_still_waits_for_a_person(rule, tenant_a, alias, developer):
    prod = services.create_application(actor=developer, tenant=tenant_a, name="prod-bot", environment="prod")

    sub = services.request_subscription(actor=developer, application=prod, alias=alias, use_case="Live traffic")

    assert sub.status == SubscriptionStatus.PENDING


def test_more_sensitive_data_still_waits_for_a_person(rule, tenant_a, alias, developer):
    secret_app = services.create_application(actor=developer, tenant=tenant_a, name="hr-bot",
                                             data_classification="confidential")

    assert services.request_subscription(actor=developer, application=secret_app, alias=alias,
                                         use_case="HR letters").status == SubscriptionStatus.PENDING


def test_a_deactivated_rule_approves_nothing(rule, app, alias, developer):
    services.deactivate_auto_approval_rule(actor=None, rule=rule)

    assert services.request_subscription(actor=developer, application=app, alias=alias,
                                         use_case="x").status == SubscriptionStatus.PENDING


def test_only_platform_admins_make_rules(alias, model_owner):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.create_auto_approval_rule(actor=model_owner, alias=alias)
