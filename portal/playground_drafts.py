"""A playground draft: what another page hands the playground to start from (a prompt, settings and a model),
kept in the person's session until the next playground page shows it once.

Other apps (the example store's "Open in playground") write a draft and redirect to the playground, so the
playground needs to know nothing about where a draft came from beyond a title and a link to show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.sessions.backends.base import SessionBase

SESSION_KEY = "playground_draft"


@dataclass(frozen=True)
class PlaygroundDraft:
    prompt: str
    alias: str
    system_prompt: str = ""
    temperature: Decimal | None = None
    max_tokens: int | None = None
    source_title: str = ""      # what the draft came from, as the notice names it
    source_url: str = ""
    earlier_turns: int = 0      # turns already in the conversation the draft opens

    @property
    def has_settings(self) -> bool:
        return bool(self.system_prompt or self.temperature is not None or self.max_tokens)


def keep_draft(session: SessionBase, draft: PlaygroundDraft) -> None:
    """Hand ``draft`` to the next playground page this session opens."""
    values = asdict(draft)
    values["temperature"] = None if draft.temperature is None else str(draft.temperature)
    session[SESSION_KEY] = values


def take_draft(session: SessionBase) -> PlaygroundDraft | None:
    """The draft handed to this page, once (a reload shows the plain page); ``None`` when there is none."""
    values = session.pop(SESSION_KEY, None)
    if not isinstance(values, dict):
        return None
    try:
        temperature = values.get("temperature")
        return PlaygroundDraft(
            prompt=str(values.get("prompt", "")), alias=str(values.get("alias", "")),
            system_prompt=str(values.get("system_prompt", "")),
            temperature=None if temperature is None else Decimal(str(temperature)),
            max_tokens=None if values.get("max_tokens") is None else int(values["max_tokens"]),
            source_title=str(values.get("source_title", "")), source_url=str(values.get("source_url", "")),
            earlier_turns=int(values.get("earlier_turns", 0)))
    except (InvalidOperation, TypeError, ValueError):  # a session written by an older release: no draft
        return None
