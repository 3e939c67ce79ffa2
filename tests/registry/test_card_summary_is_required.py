"""A model card's summary cannot be saved empty: the form says so beside the field, and the service refuses it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registry import services


@pytest.mark.smoke
def test_the_card_form_refuses_an_empty_summary_with_the_other_errors(admin_client, make_alias):
    make_alias("fast-chat", card={"summary": "Quick."})

    response = admin_client.post("/models/fast-chat/edit", {"summary": "  ", "license_url": "javascript:x"})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "summary" in errors
    assert "license_url" in errors


def test_the_service_refuses_an_empty_summary(make_alias):
    alias = make_alias("fast-chat", card={"summary": "Quick."})

    with pytest.raises(ValidationError) as refused:
        services.update_card(actor=None, alias=alias, summary="")

    assert "summary" in refused.value.message_dict
    alias.card.refresh_from_db()
    assert alias.card.summary == "Quick."
