"""Every REST list is bounded: absurd limit/offset values are clamped, never a 500."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["limit=99999999999999999999", "offset=99999999999999999999", "limit=-5&offset=-1"])
def test_absurd_pagination_is_clamped(client, make_user, query):
    client.force_login(make_user())
    response = client.get(f"/api/models/?{query}")
    assert response.status_code == 200
    assert len(response.json()["results"]) <= 500
