"""An endpoint's numbers are bounded: a probe once saved a connect timeout of 1.12e308 seconds."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registry import services


@pytest.mark.parametrize("field", ["connect_timeout", "first_byte_timeout", "total_timeout"])
def test_the_api_refuses_absurd_timeouts_naming_the_field(admin_client, make_provider, field):
    make_provider("acme")
    response = admin_client.post("/api/endpoints/", {"provider": "acme", "upstream_model": "x", field: 1.12e308},
                                 content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(("field", "value"), [
    ("connect_timeout", 1.12e308), ("total_timeout", 86_400 * 365), ("context_window", 10**12),
    ("input_price_per_mtok", 10**9),
])
def test_the_service_refuses_values_past_the_ceiling(make_provider, field, value):
    with pytest.raises(ValidationError) as refused:
        services.create_endpoint(actor=None, provider=make_provider(), upstream_model="x", **{field: value})
    assert field in refused.value.message_dict


def test_sensible_values_are_kept(make_endpoint):
    endpoint = make_endpoint(connect_timeout=10, total_timeout=1800, context_window=200_000)
    assert (endpoint.connect_timeout, endpoint.total_timeout, endpoint.context_window) == (10, 1800, 200_000)
