"""What the lifecycle means for a call: deprecated answers with headers, retired is 410, drafts are not callable."""

from __future__ import annotations

from datetime import date

import pytest

from registry import services
from registry.lifecycle import AliasNotCallable, AliasRetired, lifecycle_headers
from registry.selectors import AliasRouting

TODAY = date(2026, 3, 1)


def routing(status: str, **dates) -> AliasRouting:
    fields = {"approved_on": None, "deprecated_on": None, "sunset_on": None, "retired_on": None, "replacement": None}
    fields.update(dates)
    return AliasRouting(name="old-chat", kind="chat", status=status, **fields)


@pytest.mark.smoke
@pytest.mark.parametrize("status", ["approved", "evaluating"])
def test_a_live_alias_answers_without_extra_headers(status):
    assert lifecycle_headers(routing(status), today=TODAY) == {}


@pytest.mark.smoke
def test_a_deprecated_alias_still_answers_and_says_so():
    headers = lifecycle_headers(
        routing("deprecated", deprecated_on=date(2026, 1, 15), sunset_on=date(2026, 6, 30), replacement="new-chat"),
        today=TODAY,
    )

    assert headers == {
        "Deprecation": "@1768435200",  # RFC 9745: 2026-01-15T00:00:00Z
        "Sunset": "Tue, 30 Jun 2026 00:00:00 GMT",  # RFC 8594: an HTTP-date
        "Link": '</models/new-chat/>; rel="successor-version"',
    }


def test_a_deprecation_without_sunset_or_replacement_has_only_the_deprecation_header():
    headers = lifecycle_headers(routing("deprecated", deprecated_on=date(2026, 1, 15)), today=TODAY)

    assert list(headers) == ["Deprecation"]


@pytest.mark.smoke
def test_a_retired_alias_is_gone_and_names_its_replacement():
    with pytest.raises(AliasRetired) as caught:
        lifecycle_headers(routing("retired", retired_on=date(2026, 2, 1), replacement="new-chat"), today=TODAY)

    assert caught.value.replacement == "new-chat"
    assert caught.value.retired_on == date(2026, 2, 1)
    assert "new-chat" in str(caught.value)


def test_a_deprecated_alias_past_its_sunset_counts_as_retired():
    with pytest.raises(AliasRetired):
        lifecycle_headers(routing("deprecated", deprecated_on=date(2026, 1, 1), sunset_on=TODAY), today=TODAY)


def test_a_draft_is_not_callable():
    with pytest.raises(AliasNotCallable) as caught:
        lifecycle_headers(routing("draft"), today=TODAY)

    assert not isinstance(caught.value, AliasRetired)


def test_lifecycle_moves_only_forward_and_dates_each_step(db, make_alias):
    alias = make_alias("chat-a", status="draft")

    services.update_alias(actor=None, alias=alias, status="approved")
    services.update_alias(actor=None, alias=alias, status="deprecated", sunset_on=date(2099, 1, 1))
    assert alias.approved_on is not None and alias.deprecated_on is not None

    services.update_alias(actor=None, alias=alias, status="retired")
    assert alias.retired_on is not None
    with pytest.raises(services.ValidationError):
        services.update_alias(actor=None, alias=alias, status="approved")
