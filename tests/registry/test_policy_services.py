"""Creating, changing, enabling and deleting a guardrail policy: versions kept, every change audited with its
before and after, the gateways told, and only platform admins allowed."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aiplatform import config_version
from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole
from registry import selectors
from registry.models import Policy, PolicyVersion
from registry.services_policies import create_policy, delete_policy, set_policy_enabled, update_policy

MASK_EMAIL = {"input": [{"detector": "email", "action": "mask"}], "unmask_output": True}
BLOCK_CARDS = {"input": [{"detector": "email", "action": "mask"}, {"detector": "payment_card", "action": "block"}]}


@pytest.fixture
def policy(platform_admin):
    return create_policy(actor=platform_admin, name="pii-basic", description="Masks e-mail", document=MASK_EMAIL)


def test_a_new_policy_is_version_one_with_its_history(policy):
    assert policy.version == 1
    assert list(selectors.policy_history(policy).values_list("version", flat=True)) == [1]


def test_its_creation_is_audited(policy, platform_admin):
    event = AuditEvent.objects.get(action="policy.create")

    assert event.actor == platform_admin
    assert event.changes["document"] == MASK_EMAIL


def test_a_changed_document_makes_a_new_version(policy, platform_admin):
    update_policy(actor=platform_admin, policy=policy, document=BLOCK_CARDS)

    assert policy.version == 2
    assert PolicyVersion.objects.get(policy=policy, version=2).document == BLOCK_CARDS
    assert PolicyVersion.objects.get(policy=policy, version=1).document == MASK_EMAIL


def test_the_change_is_audited_with_before_and_after(policy, platform_admin):
    update_policy(actor=platform_admin, policy=policy, document=BLOCK_CARDS)

    event = AuditEvent.objects.get(action="policy.update")
    assert event.changes["document"] == [MASK_EMAIL, BLOCK_CARDS]
    assert event.changes["version"] == [1, 2]


def test_the_same_document_makes_no_version_and_no_event(policy, platform_admin):
    update_policy(actor=platform_admin, policy=policy,
                  document={"unmask_output": True, "input": [{"detector": "email", "action": "mask"}]})

    assert policy.version == 1
    assert not AuditEvent.objects.filter(action="policy.update").exists()


def test_a_new_description_alone_keeps_the_version(policy, platform_admin):
    update_policy(actor=platform_admin, policy=policy, description="Masks e-mail addresses")

    assert Policy.objects.get(pk=policy.pk).version == 1
    assert AuditEvent.objects.get(action="policy.update").changes == {
        "description": ["Masks e-mail", "Masks e-mail addresses"]}


def test_disabling_is_audited_and_leaves_the_table(policy, platform_admin):
    set_policy_enabled(actor=platform_admin, policy=policy, enabled=False)

    assert selectors.policy_table() == ()
    assert AuditEvent.objects.get(action="policy.disable").changes["enabled"] == [True, False]


def test_every_change_tells_the_gateways(policy, platform_admin):
    before = config_version.current("registry")

    update_policy(actor=platform_admin, policy=policy, document=BLOCK_CARDS)

    assert config_version.current("registry") > before


def test_deleting_keeps_the_audit_trail(policy, platform_admin):
    delete_policy(actor=platform_admin, policy=policy)

    assert not PolicyVersion.objects.exists()
    event = AuditEvent.objects.get(action="policy.delete")
    assert event.changes["document"] == MASK_EMAIL
    assert AuditEvent.objects.filter(action="policy.create").exists()


def test_a_bad_document_is_refused_with_its_path(platform_admin):
    with pytest.raises(ValidationError) as refused:
        create_policy(actor=platform_admin, name="bad", document={"input": [{"detector": "jwt", "action": "shred"}]})

    assert refused.value.message_dict["document"][0].startswith("input[0].action: 'shred'")
    assert not Policy.objects.exists()


def test_a_policy_may_name_only_existing_teams_and_models(platform_admin, tenant_a):
    with pytest.raises(ValidationError) as refused:
        create_policy(actor=platform_admin, name="teams", document={
            "applies_to": {"tenants": ["alpha", "nobody"], "aliases": ["ghost"]}})

    assert refused.value.message_dict["document"] == ["applies_to.aliases: no model ghost",
                                                      "applies_to.tenants: no team nobody"]


def test_a_policy_names_a_team_and_a_model(platform_admin, tenant_a, make_alias):
    make_alias("fast-chat")

    policy = create_policy(actor=platform_admin, name="alpha", document={
        "applies_to": {"tenants": ["alpha"], "aliases": ["fast-chat"]}})

    assert policy.document["applies_to"] == {"aliases": ["fast-chat"], "tenants": ["alpha"]}


def test_names_are_slugs_and_unique(platform_admin, policy):
    with pytest.raises(ValidationError):
        create_policy(actor=platform_admin, name="pii-basic", document={})
    with pytest.raises(ValidationError):
        create_policy(actor=platform_admin, name="Not A Slug", document={})


@pytest.mark.parametrize("role", [PlatformRole.AUDITOR, PlatformRole.MODEL_OWNER, None])
def test_only_platform_admins_change_policies(make_user, policy, role):
    user = make_user(platform_role=role)

    with pytest.raises(PermissionDenied):
        update_policy(actor=user, policy=policy, document=BLOCK_CARDS)
    with pytest.raises(PermissionDenied):
        create_policy(actor=user, name="mine", document={})

    assert Policy.objects.get(pk=policy.pk).version == 1
    assert AuditEvent.objects.filter(action="security.permission_denied").count() == 2


def test_the_policy_table_holds_enabled_policies_at_their_version(policy, platform_admin, django_assert_max_num_queries):
    create_policy(actor=platform_admin, name="off", document={}, enabled=False)
    update_policy(actor=platform_admin, policy=policy, document=BLOCK_CARDS)

    with django_assert_max_num_queries(2):
        table = selectors.policy_table()

    assert [(p.name, p.version) for p in table] == [("pii-basic", 2)]
    assert [r.detector for r in table[0].input] == ["email", "payment_card"]
