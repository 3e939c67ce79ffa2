"""A NUL character in a query string is a 400, never a database error (issue 19.11)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/api/subscriptions/?status=a%00b", "/api/models/?status=a%00b",
                                  "/api/models/?provider=a%00b"])
def test_the_api_answers_400_in_its_error_shape(employee_client, path):
    response = employee_client.get(path)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("path", ["/models/?provider=a%00b", "/models/?status=a%00b", "/models/?q=%00"])
def test_pages_answer_a_plain_400(employee_client, path):
    response = employee_client.get(path)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
