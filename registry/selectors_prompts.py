"""Reading prompt APIs: the table the gateway serves them from, and which version a reference names
(``slug``, ``slug@3``, ``slug@production``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from registry import prompt_templates
from registry.models.prompts import PRODUCTION, PromptApi, PromptLabel, PromptVersion, VersionStatus

REFERENCE = re.compile(r"^(?P<slug>[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)(?:@(?P<pin>[a-z0-9._-]{1,40}))?$")


class PromptNotFound(Exception):
    """The reference names no published version; ``message`` says which part is missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class PublishedPrompt:
    """One published version, as plain data: what a call of it renders and sends."""

    slug: str
    number: int
    template: str
    system_prompt: str
    variables: tuple[prompt_templates.Variable, ...]
    alias: str
    temperature: float | None
    max_tokens: int | None


@dataclass(frozen=True, slots=True)
class PromptEntry:
    slug: str
    published: Mapping[int, PublishedPrompt]
    unpublished: frozenset[int]  # drafts and versions waiting for approval
    labels: Mapping[str, int]

    def resolve(self, pin: str | None) -> PublishedPrompt:
        if pin is None:
            number = self.labels.get(PRODUCTION) or max(self.published, default=None)
            if number is None:
                raise PromptNotFound(f"{self.slug} has no published version yet.")
            return self.published[number]
        if pin.isdigit():
            number = int(pin)
            if number in self.published:
                return self.published[number]
            raise PromptNotFound(f"Version {number} of {self.slug} is not published." if number in self.unpublished
                                 else f"{self.slug} has no version {number}.")
        if pin not in self.labels:
            raise PromptNotFound(f"The label {pin!r} of {self.slug} points at nothing.")
        return self.published[self.labels[pin]]


def split_reference(reference: str) -> tuple[str, str | None]:
    match = REFERENCE.match(reference or "")
    if match is None:
        raise PromptNotFound(f"{reference!r} is not a prompt reference: <slug>, <slug>@<version> or <slug>@<label>.")
    return match["slug"], match["pin"]


def prompt_table(slugs: list[str] | None = None) -> Mapping[str, PromptEntry]:
    """Every prompt API (or those of ``slugs``) by slug, as immutable plain data. Three queries. The gateway
    reads it with the routing table, whenever ``config_version.current("registry")`` moves."""
    prompts = PromptApi.objects.all() if slugs is None else PromptApi.objects.filter(slug__in=slugs)
    slug_of = dict(prompts.values_list("pk", "slug"))
    published: dict[int, dict[int, PublishedPrompt]] = {pk: {} for pk in slug_of}
    unpublished: dict[int, set[int]] = {pk: set() for pk in slug_of}
    versions = PromptVersion.objects.filter(prompt_id__in=slug_of).select_related("alias")
    for v in versions:
        if v.status != VersionStatus.PUBLISHED:
            unpublished[v.prompt_id].add(v.number)
            continue
        published[v.prompt_id][v.number] = PublishedPrompt(
            slug=slug_of[v.prompt_id], number=v.number, template=v.template, system_prompt=v.system_prompt,
            variables=prompt_templates.parse_variables(v.variables), alias=v.alias.name,
            temperature=None if v.temperature is None else float(v.temperature), max_tokens=v.max_tokens)
    labels: dict[int, dict[str, int]] = {pk: {} for pk in slug_of}
    for prompt_id, name, number in PromptLabel.objects.filter(prompt_id__in=slug_of).values_list(
            "prompt_id", "name", "version__number"):
        labels[prompt_id][name] = number
    return MappingProxyType({slug: PromptEntry(slug=slug, published=MappingProxyType(published[pk]),
                                               unpublished=frozenset(unpublished[pk]),
                                               labels=MappingProxyType(labels[pk]))
                             for pk, slug in slug_of.items()})


def resolve_in(table: Mapping[str, PromptEntry], slug: str, pin: str | None) -> PublishedPrompt:
    """The published version of ``slug`` that ``pin`` names (``split_reference``): a number pins a version, a
    label follows it, and none follows ``production`` (or, without that label, the latest published version)."""
    entry = table.get(slug)
    if entry is None:
        raise PromptNotFound(f"No prompt API {slug!r}.")
    return entry.resolve(pin)


def resolve(reference: str) -> PromptVersion:
    """As ``resolve_in``, read from the database: the version row."""
    slug, pin = split_reference(reference)
    found = resolve_in(prompt_table([slug]), slug, pin)
    return PromptVersion.objects.select_related("alias", "prompt").get(prompt__slug=found.slug, number=found.number)
