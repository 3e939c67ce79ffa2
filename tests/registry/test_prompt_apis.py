"""Prompt APIs in the registry (issue 16, part 3): typed variables, templates checked at save time and rendered
literally, immutable published versions, movable labels, references, and second-person approval."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from registry import prompt_templates, services
from registry import services_prompts as prompts
from registry.models import PromptVersion
from registry.models.prompts import PublishedVersionChanged, VersionStatus
from registry.selectors_prompts import PromptNotFound, resolve

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

VARIABLES = [{"name": "text", "type": "string", "description": "What to summarise"},
             {"name": "n", "type": "integer", "required": False, "default": 3}]
TEMPLATE = "Summarise {{ text }} in {{ n }} bullets"


@pytest.fixture
def chat_model(db):
    return services.create_alias(actor=None, name="fast-chat", status="approved")


@pytest.fixture
def author(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.DEVELOPER, email="author@example.com")


@pytest.fixture
def reviewer(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.DEVELOPER, email="reviewer@example.com")


@pytest.fixture
def summarise(author, reviewer, tenant_a, chat_model):
    return prompts.create_prompt(actor=author, tenant=tenant_a, slug="summarise", title="Summarise in bullets",
                                 owners=[author, reviewer])


def version(actor, prompt, template=TEMPLATE, **fields):
    return prompts.add_version(actor=actor, prompt=prompt, template=template, alias="fast-chat",
                               variables=fields.pop("variables", VARIABLES), **fields)


def test_versions_labels_and_references(author, summarise):
    v1 = version(author, summarise, system_prompt="You write for {{ n }}-year-olds? No: for adults.")
    assert (v1.number, v1.status) == (1, VersionStatus.DRAFT)
    with pytest.raises(PromptNotFound, match="no published version"):
        resolve("summarise")
    assert prompts.publish(actor=author, prompt=summarise, version=v1) is None  # no approval needed here
    v1.refresh_from_db()
    assert v1.is_published and v1.published_by == author
    # Published means fixed: its content never changes (a new version is the way).
    v1.template = "Something else"
    with pytest.raises(PublishedVersionChanged):
        v1.save()
    v2 = version(author, summarise, template="In {{ n }} bullets: {{ text }}", note="Bullets first")
    with pytest.raises(ValidationError, match="not published"):
        prompts.move_label(actor=author, prompt=summarise, label="staging", version=v2)
    prompts.publish(actor=author, prompt=summarise, version=v2)
    prompts.move_label(actor=author, prompt=summarise, label="production", version=v1)
    prompts.move_label(actor=author, prompt=summarise, label="staging", version=v2)
    assert [resolve(ref).number for ref in ("summarise", "summarise@production", "summarise@staging",
                                            "summarise@1", "summarise@2")] == [1, 1, 2, 1, 2]
    prompts.move_label(actor=author, prompt=summarise, label="production", version=v2)  # the label moves
    assert resolve("summarise").number == 2
    version(author, summarise)  # a draft 3
    for ref, message in (("summarise@canary", "label 'canary' of summarise points at nothing"),
                         ("summarise@3", "Version 3 of summarise is not published"),
                         ("summarise@9", "summarise has no version 9"), ("nothing", "No prompt API 'nothing'"),
                         ("Bad Ref!", "not a prompt reference")):
        with pytest.raises(PromptNotFound, match=message):
            resolve(ref)
    moves = AuditEvent.objects.filter(action="prompt.label_move").values_list("changes", flat=True)
    assert {"label": "production", "version": [1, 2]} in list(moves)


def test_a_template_using_an_undeclared_variable_is_refused_at_save_time(author, summarise):
    for template, system, message in (
            ("Summarise {{ text }} for {{ audience }}", "", "undefined variable audience"),
            (TEMPLATE, "Write as {{ persona }}", "undefined variable persona"),
            ("{% for x in text %}{{ x }}{% endfor %}", "", "only {{ variable }} slots"),
            ("{{ text|upper }}", "", "no filters"), ("{{ text.__class__ }}", "", "no filters, attributes"),
            ("{{ text", "", "Line 1")):
        with pytest.raises(ValidationError, match=message):
            version(author, summarise, template=template, system_prompt=system)
    for variables, message in (([{"name": "Text"}], "not a variable name"), ([{"name": "n", "type": "date"}], "type"),
                               ([{"name": "n", "type": "integer", "default": "3"}], "default is not"),
                               ([{"name": "a"}, {"name": "a"}], "declared twice"), ("text", "list of variables")):
        with pytest.raises(ValidationError, match=message):
            version(author, summarise, template="{{ a }}", variables=variables)
    assert not PromptVersion.objects.exists()


def test_calls_variables_are_checked_and_errors_name_the_variable():
    declared = prompt_templates.parse_variables(VARIABLES)
    assert prompt_templates.bind(declared, {"text": "the minutes"}) == {"text": "the minutes", "n": 3}
    for values, name, message in (({}, "text", "Missing variable 'text'"),
                                  ({"text": "x", "tone": "dry"}, "tone", "Unknown variable 'tone'"),
                                  ({"text": 42}, "text", "must be a string, not integer"),
                                  ({"text": "x", "n": "5"}, "n", "must be an integer, not string"),
                                  ({"text": "x", "n": True}, "n", "not boolean"),
                                  (["text"], "", "must be an object, not array")):
        with pytest.raises(prompt_templates.VariableError, match=message) as refused:
            prompt_templates.bind(declared, values)
        assert refused.value.name == name


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_a_value_is_rendered_literally_whatever_template_syntax_it_holds(value):
    bound = prompt_templates.bind(prompt_templates.parse_variables(VARIABLES), {"text": value})
    messages = prompt_templates.render_messages(template=TEMPLATE, system_prompt="", bound=bound)
    assert messages == [{"role": "user", "content": f"Summarise {value} in 3 bullets"}]


def test_publishing_and_moving_production_wait_for_a_second_person(author, reviewer, summarise):
    prompts.update_prompt(actor=author, prompt=summarise, requires_approval=True)
    v1 = version(author, summarise)
    change = prompts.publish(actor=author, prompt=summarise, version=v1)
    v1.refresh_from_db()
    assert change.status == "pending" and v1.status == VersionStatus.PENDING
    with pytest.raises(PromptNotFound):
        resolve("summarise@1")
    with pytest.raises(PermissionDenied, match="second person"):
        prompts.decide_change(actor=author, prompt=summarise, change=change, approve=True)
    prompts.decide_change(actor=reviewer, prompt=summarise, change=change, approve=True, comment="Reads well")
    assert resolve("summarise@1").published_by == author

    staging = prompts.move_label(actor=author, prompt=summarise, label="staging", version=v1)  # not production
    assert staging.version == v1
    pending = prompts.move_label(actor=author, prompt=summarise, label="production", version=v1)
    with pytest.raises(PromptNotFound, match="points at nothing"):
        resolve("summarise@production")
    prompts.decide_change(actor=reviewer, prompt=summarise, change=pending, approve=True)
    assert resolve("summarise@production") == v1

    v2 = version(author, summarise)
    rejected = prompts.publish(actor=author, prompt=summarise, version=v2)
    prompts.decide_change(actor=reviewer, prompt=summarise, change=rejected, approve=False, comment="Too long")
    v2.refresh_from_db()
    assert v2.status == VersionStatus.DRAFT  # back to its author
    decisions = list(AuditEvent.objects.filter(action="prompt.change_decide").values_list("actor__email", "changes"))
    assert [(email, c["decision"], c["requested_by"]) for email, c in decisions] == [
        ("reviewer@example.com", "approved", "author@example.com"),
        ("reviewer@example.com", "approved", "author@example.com"),
        ("reviewer@example.com", "rejected", "author@example.com")]


def test_only_the_prompts_owners_change_it(author, summarise, tenant_a, tenant_b, make_member):
    teammate = make_member(tenant_a, TenantRole.DEVELOPER, email="teammate@example.com")  # in the team, not an owner
    outsider = make_member(tenant_b, TenantRole.ADMIN, email="outsider@example.com")
    viewer = make_member(tenant_a, TenantRole.VIEWER, email="viewer@example.com")
    for actor in (teammate, outsider):
        with pytest.raises(PermissionDenied):
            version(actor, summarise)
    with pytest.raises(PermissionDenied):
        prompts.create_prompt(actor=viewer, tenant=tenant_a, slug="mine", title="Mine")
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=outsider).exists()
    with pytest.raises(ValidationError):
        prompts.create_prompt(actor=author, tenant=tenant_a, slug="summarise", title="Again")  # slugs are unique


json_like = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(st.sampled_from(
                                                     ["name", "type", "required", "default", "description", "x"]),
                                                     inner, max_size=4)), max_leaves=10)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=80).map(lambda t: t.replace("[", "{").replace("]", "}")), json_like)
def test_any_template_or_variables_is_accepted_or_refused_with_a_validation_error(template, variables):
    """Whatever an owner types (braces made likely), saving either works or says what is wrong: never a crash."""
    try:
        declared = prompt_templates.parse_variables(variables)
        prompt_templates.check(template=template, system_prompt="", variables=declared)
    except ValidationError:
        return
    names = prompt_templates.slots(template)
    assert set(names) <= {v.name for v in declared}
