"""An audit row's ``changes``, as lines a person reads: "role: developer → admin", "email: a@b.org".

Services record a changed field as ``[before, after]`` and a fact of the event as its plain value
(``aiplatform/services.py``, ``registry/services.py``); nested values are flattened with dotted names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EMPTY = "—"


@dataclass(frozen=True, slots=True)
class ChangeLine:
    field: str
    before: str | None  # None: not a change, ``after`` is the value
    after: str


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def change_lines(changes: Any, *, action: str = "", prefix: str = "") -> list[ChangeLine]:
    """The lines of ``changes`` in their recorded order (a non-dict value is one line named "value").

    A creation records values, not changes, so there a pair (two owners, say) is one value, not before → after.
    """
    if not isinstance(changes, dict):
        return [] if changes in (None, "", []) else [ChangeLine(prefix or "value", None, _text(changes))]
    lines: list[ChangeLine] = []
    for key, value in changes.items():
        name = f"{prefix}{key}".replace("_", " ")
        if (not action.endswith(".create") and isinstance(value, list) and len(value) == 2
                and not any(isinstance(v, (list, dict)) for v in value)):
            lines.append(ChangeLine(name, _text(value[0]), _text(value[1])))
        elif isinstance(value, dict) and value:
            lines.extend(change_lines(value, action=action, prefix=f"{prefix}{key}."))
        else:
            lines.append(ChangeLine(name, None, _text(value)))
    return lines
