"""Reading prompt APIs: which version a reference names (``slug``, ``slug@3``, ``slug@production``)."""

from __future__ import annotations

import re

from registry.models.prompts import PRODUCTION, PromptApi, PromptLabel, PromptVersion, VersionStatus

REFERENCE = re.compile(r"^(?P<slug>[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)(?:@(?P<pin>[a-z0-9._-]{1,40}))?$")


class PromptNotFound(Exception):
    """The reference names no published version; ``message`` says which part is missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve(reference: str) -> PromptVersion:
    """The published version ``reference`` names: ``@<number>`` pins a version, ``@<label>`` follows a label,
    and no suffix follows ``production`` (or, without that label, the latest published version)."""
    match = REFERENCE.match(reference or "")
    if match is None:
        raise PromptNotFound(f"{reference!r} is not a prompt reference: <slug>, <slug>@<version> or <slug>@<label>.")
    prompt = PromptApi.objects.filter(slug=match["slug"]).first()
    if prompt is None:
        raise PromptNotFound(f"No prompt API {match['slug']!r}.")
    published = PromptVersion.objects.filter(prompt=prompt, status=VersionStatus.PUBLISHED).select_related(
        "alias", "prompt")
    pin = match["pin"]
    if pin is None:
        label = PromptLabel.objects.filter(prompt=prompt, name=PRODUCTION).select_related("version").first()
        version = published.filter(pk=label.version_id).first() if label else published.order_by("-number").first()
        if version is None:
            raise PromptNotFound(f"{prompt.slug} has no published version yet.")
        return version
    if pin.isdigit():
        version = published.filter(number=int(pin)).first()
        if version is None:
            exists = PromptVersion.objects.filter(prompt=prompt, number=int(pin)).exists()
            raise PromptNotFound(f"Version {pin} of {prompt.slug} is not published." if exists
                                 else f"{prompt.slug} has no version {pin}.")
        return version
    label = PromptLabel.objects.filter(prompt=prompt, name=pin).first()
    if label is None:
        raise PromptNotFound(f"The label {pin!r} of {prompt.slug} points at nothing.")
    return published.get(pk=label.version_id)
