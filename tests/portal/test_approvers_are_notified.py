"""A new subscription request tells its approvers, in the portal and by e-mail, once the request is saved."""

from __future__ import annotations

import pytest
from django.core import mail

from aiplatform.roles import PlatformRole
from portal import services
from portal.models import Notification


@pytest.mark.smoke
def test_the_models_owner_is_told_in_app_and_by_email(app, alias, developer, model_owner,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_subscription(actor=developer, application=app, alias=alias, use_case="Summarise tickets")

    notification = Notification.objects.get(user=model_owner)
    assert notification.title == "Alpha asks for fast-chat"
    assert notification.link == "/portal/approvals/"
    assert mail.outbox[-1].to == ["owner@example.com"]
    assert "Summarise tickets" in mail.outbox[-1].body


def test_nothing_is_sent_for_a_request_that_was_rolled_back(app, alias, developer, model_owner,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.request_subscription(actor=developer, application=app, alias=alias, use_case="Summarise tickets")

    assert callbacks  # the e-mail and the push wait for the commit
    assert mail.outbox == []


def test_without_a_model_owner_the_platform_admins_are_told(app, make_alias, developer, platform_admin,
                                                           django_capture_on_commit_callbacks):
    orphan = make_alias("orphan-chat")

    with django_capture_on_commit_callbacks(execute=True):
        services.request_subscription(actor=developer, application=app, alias=orphan, use_case="Try it")

    assert Notification.objects.filter(user=platform_admin, title="Alpha asks for orphan-chat").exists()
    assert mail.outbox[-1].to == ["root@example.com"]


def test_an_owner_without_the_model_owner_role_is_not_asked(app, make_alias, make_user, developer, platform_admin):
    bystander = make_user("named-only@example.com")
    alias = make_alias("named-chat", owners=[bystander])

    services.request_subscription(actor=developer, application=app, alias=alias, use_case="Try it")

    assert not Notification.objects.filter(user=bystander).exists()
    assert Notification.objects.filter(user=platform_admin).exists()


def test_the_requester_is_not_asked_to_decide_their_own_request(tenant_a, make_member, make_alias, make_user):
    from aiplatform.roles import TenantRole

    owner_and_developer = make_user("both@example.com", platform_role=PlatformRole.MODEL_OWNER)
    from aiplatform import services as core_services

    core_services.add_member(actor=None, tenant=tenant_a, user=owner_and_developer, role=TenantRole.DEVELOPER)
    alias = make_alias("own-chat", owners=[owner_and_developer])
    app = services.create_application(actor=owner_and_developer, tenant=tenant_a, name="own-bot")

    services.request_subscription(actor=owner_and_developer, application=app, alias=alias, use_case="Mine")

    assert not Notification.objects.filter(user=owner_and_developer).exists()
