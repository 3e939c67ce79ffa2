"""What the lifecycle of an alias means for one call. Pure: no database, no I/O.

The gateway calls ``lifecycle_headers(routing)`` for every request that names an alias:

- evaluating and approved aliases answer normally (no extra headers);
- a deprecated alias still answers and says so: ``Deprecation`` (RFC 9745: ``@<unix time>``
  of the deprecation), ``Sunset`` (RFC 8594: the HTTP-date it stops answering, when set) and
  ``Link`` to the replacement's card (``rel="successor-version"``) when there is one;
- a retired alias — or a deprecated one whose sunset has passed — raises ``AliasRetired``
  (the gateway answers 410 Gone and names the replacement);
- a draft is not callable: ``AliasNotCallable`` (the gateway answers as for an unknown model).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Protocol


class _Lifecycle(Protocol):
    name: str
    status: str
    deprecated_on: date | None
    sunset_on: date | None
    retired_on: date | None
    replacement: str | None


class AliasNotCallable(Exception):
    """The alias exists but must not be called (a draft)."""

    def __init__(self, alias: str, status: str) -> None:
        super().__init__(f"The model {alias!r} is not available ({status}).")
        self.alias = alias
        self.status = status


class AliasRetired(AliasNotCallable):
    """The alias is retired: 410 Gone, with the replacement to use instead (or None)."""

    def __init__(self, alias: str, *, replacement: str | None, retired_on: date | None) -> None:
        Exception.__init__(self, retirement_message(alias, replacement))
        self.alias = alias
        self.status = "retired"
        self.replacement = replacement
        self.retired_on = retired_on


def retirement_message(alias: str, replacement: str | None) -> str:
    advice = f" Use {replacement!r} instead." if replacement else ""
    return f"The model {alias!r} has been retired.{advice}"


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def http_date(day: date) -> str:
    """``Sun, 06 Nov 1994 00:00:00 GMT`` for midnight UTC of ``day``."""
    return format_datetime(_midnight_utc(day), usegmt=True)


def successor_link(replacement: str) -> str:
    return f'</models/{replacement}/>; rel="successor-version"'


def lifecycle_headers(alias: _Lifecycle, *, today: date | None = None) -> dict[str, str]:
    """The extra response headers for a call to ``alias``, or raise if it must not answer.

    ``alias`` is a ``registry.selectors.AliasRouting`` (anything with its lifecycle fields);
    ``today`` defaults to the current UTC date.
    """
    today = today or datetime.now(UTC).date()
    status = alias.status
    if status == "retired" or (status == "deprecated" and alias.sunset_on is not None and alias.sunset_on <= today):
        raise AliasRetired(alias.name, replacement=alias.replacement, retired_on=alias.retired_on or alias.sunset_on)
    if status == "draft":
        raise AliasNotCallable(alias.name, status)
    if status != "deprecated":
        return {}
    since = alias.deprecated_on or today
    headers = {"Deprecation": f"@{calendar.timegm(_midnight_utc(since).timetuple())}"}
    if alias.sunset_on is not None:
        headers["Sunset"] = http_date(alias.sunset_on)
    if alias.replacement:
        headers["Link"] = successor_link(alias.replacement)
    return headers
