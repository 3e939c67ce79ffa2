"""What the prompt API pages read: the prompts, a prompt's versions with their diffs, usage and feedback."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.http import Http404

from portal.models import Feedback, UsageEvent
from registry.models import PromptApi, PromptChange, PromptVersion
from registry.models.prompts import ChangeStatus


@dataclass(frozen=True)
class VersionRow:
    version: PromptVersion
    labels: list[str]
    diff: list[tuple[str, str]]  # (kind: add | del | hunk | same, line) against the version before
    calls: int
    errors: int
    tokens: int
    cost: Decimal
    thumbs_up: int
    thumbs_down: int

    @property
    def cost_text(self) -> str:
        return f"{self.cost.normalize():f}"


def prompt_list() -> list[PromptApi]:
    return list(PromptApi.objects.select_related("tenant").prefetch_related("labels__version", "versions"))


def prompt_for(slug: str) -> PromptApi:
    prompt = PromptApi.objects.select_related("tenant").filter(slug=slug).first()
    if prompt is None:
        raise Http404("No such prompt API.")
    return prompt


def _text_of(version: PromptVersion) -> list[str]:
    lines = [f"model: {version.alias.name}", f"temperature: {version.temperature}",
             f"max_tokens: {version.max_tokens}", "variables:"]
    lines += [f"  {v['name']}: {v['type']}{'' if v['required'] else ' (optional)'}"
              + (f" = {v['default']!r}" if v.get("default") is not None else "") for v in version.variables]
    lines += ["system prompt:", *version.system_prompt.splitlines(), "template:", *version.template.splitlines()]
    return lines


def _diff(before: PromptVersion | None, after: PromptVersion) -> list[tuple[str, str]]:
    if before is None:
        return []
    out = []
    for line in list(difflib.unified_diff(_text_of(before), _text_of(after), lineterm="", n=1))[2:]:
        kind = "hunk" if line.startswith("@@") else "add" if line.startswith("+") else \
            "del" if line.startswith("-") else "same"
        out.append((kind, line))
    return out


def version_rows(prompt: PromptApi) -> list[VersionRow]:
    """Newest first, each with its labels, its diff to the one before, and its usage and feedback (all teams)."""
    versions = list(prompt.versions.select_related("alias", "created_by", "published_by").order_by("number"))
    labels: dict[int, list[str]] = {}
    for label in prompt.labels.select_related("version"):
        labels.setdefault(label.version.number, []).append(label.name)
    calls = {row["prompt_version"]: row for row in UsageEvent.objects.filter(prompt=prompt.slug).values(
        "prompt_version").annotate(calls=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)),
                                   tokens=Sum("total_tokens"), cost=Sum("cost")).order_by()}
    rows = []
    for i, version in enumerate(versions):
        usage = calls.get(version.number, {})
        ids = UsageEvent.objects.filter(prompt=prompt.slug, prompt_version=version.number).values("request_id")
        votes = dict(Feedback.objects.filter(request_id__in=ids).values_list("rating").annotate(n=Count("pk"))
                     .order_by()) if usage else {}
        rows.append(VersionRow(version=version, labels=sorted(labels.get(version.number, [])),
                               diff=_diff(versions[i - 1] if i else None, version), calls=usage.get("calls", 0),
                               errors=usage.get("errors", 0), tokens=usage.get("tokens") or 0,
                               cost=usage.get("cost") or Decimal(0), thumbs_up=votes.get("up", 0),
                               thumbs_down=votes.get("down", 0)))
    return list(reversed(rows))


def pending_changes(prompt: PromptApi) -> list[PromptChange]:
    return list(prompt.changes.filter(status=ChangeStatus.PENDING).select_related("version", "requested_by"))
