"""What a model card offers the person reading it: try it, ask for it, call it (``{% card_actions %}``).

The card lives in the registry, which knows nothing of teams and applications; this tag is the
portal's part of the page, loaded by the card's template.
"""

from __future__ import annotations

import json

from django import template
from django.conf import settings

from aiplatform.permissions import can
from portal import playground_selectors, selectors, selectors_feedback
from portal.services.playground import team_aliases
from registry.selectors_prompts import PromptNotFound, prompt_table, resolve_in

register = template.Library()


_EXAMPLE_VALUES = {"string": "…", "integer": 3, "number": 0.5, "boolean": True}


def prompt_snippets(reference: str, variables, base_url: str) -> dict[str, str]:
    """Code to call a prompt API (``reference``: ``slug`` or ``slug@…``) with its ``variables``."""
    gateway = base_url.rstrip("/") + "/v1"
    values = {v.name: _EXAMPLE_VALUES[v.type] for v in variables if v.required} or {
        v.name: _EXAMPLE_VALUES[v.type] for v in variables[:1]}
    body = json.dumps({"variables": values}, ensure_ascii=False)
    return {
        "openai": (
            "from openai import OpenAI\n"
            "from openai.types.chat import ChatCompletion\n\n"
            f'client = OpenAI(base_url="{gateway}", api_key="sb-…your key…")\n'
            f'reply = client.post("/prompts/{reference}", body={ {"variables": values}!r}, cast_to=ChatCompletion)\n'
            "print(reply.choices[0].message.content)"),
        "curl": (
            f"curl {gateway}/prompts/{reference} \\\n"
            '  -H "Authorization: Bearer $SWITCHBOARD_KEY" -H "Content-Type: application/json" \\\n'
            f"  -d '{body}'"),
    }


def _snippets(alias, base_url: str) -> dict[str, str]:
    gateway = base_url.rstrip("/") + "/v1"
    name = alias.name
    if alias.kind == "prompt":
        try:
            version = resolve_in(prompt_table([name]), name, None)
        except PromptNotFound:
            return {}
        return prompt_snippets(name, version.variables, base_url)
    if alias.kind != "chat":
        return {
            "openai": (
                "from openai import OpenAI\n\n"
                f'client = OpenAI(base_url="{gateway}", api_key="sb-…your key…")\n'
                f'vectors = client.embeddings.create(model="{name}", input=["Hello"])\n'
                "print(len(vectors.data[0].embedding))"),
            "curl": (
                f"curl {gateway}/embeddings \\\n"
                '  -H "Authorization: Bearer $SWITCHBOARD_KEY" -H "Content-Type: application/json" \\\n'
                f"  -d '{{\"model\": \"{name}\", \"input\": \"Hello\"}}'"),
        }
    return {
        "openai": (
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{gateway}", api_key="sb-…your key…")\n'
            "reply = client.chat.completions.create(\n"
            f'    model="{name}",\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            ")\n"
            "print(reply.choices[0].message.content)"),
        "anthropic": (
            "import anthropic\n\n"
            f'client = anthropic.Anthropic(base_url="{base_url.rstrip("/")}", api_key="sb-…your key…")\n'
            "message = client.messages.create(\n"
            f'    model="{name}", max_tokens=512,\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            ")\n"
            "print(message.content[0].text)"),
        "curl": (
            f"curl {gateway}/chat/completions \\\n"
            '  -H "Authorization: Bearer $SWITCHBOARD_KEY" -H "Content-Type: application/json" \\\n'
            f"  -d '{{\"model\": \"{name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'"),
    }


@register.inclusion_tag("portal/_card_actions.html", takes_context=True)
def card_actions(context, alias) -> dict:
    """Try in playground, Request access (for one of the person's applications) and code to copy."""
    user = context["request"].user
    teams = playground_selectors.teams_of(user)
    may_try = alias.kind == "chat" and any(alias.name in team_aliases(team) for team in teams)
    # Only teams the person is in: a platform admin sees every application, but asks for their own.
    mine = selectors.applications_for(user).filter(is_playground=False, tenant__memberships__user=user)
    applications = [app for app in mine if can(user, "subscription.request", app)]
    return {"alias": alias, "may_try": may_try, "is_chat": alias.kind == "chat", "applications": applications,
            "requestable": alias.status in ("approved", "evaluating"), "snippets": _snippets(alias, settings.SITE_URL),
            "has_team": bool(teams)}


@register.inclusion_tag("registry/_feedback_summary.html", takes_context=True)
def card_feedback(context, alias) -> dict:
    """What people said of ``alias`` (thumbs, categories, compare votes); its reviewers get the CSV export."""
    user = context["request"].user
    return {"summary": selectors_feedback.feedback_summary(alias), "alias": alias,
            "may_export": can(user, "feedback.review", alias)}
