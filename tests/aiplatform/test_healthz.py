import pytest


@pytest.mark.smoke
def test_healthz_answers_200_with_a_request_id(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response["x-request-id"]) >= 16


@pytest.mark.smoke
def test_a_well_formed_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"x-request-id": "lb-1234-abcd-5678"})
    assert response["x-request-id"] == "lb-1234-abcd-5678"


def test_a_malformed_incoming_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"x-request-id": "bad id <script>"})
    assert response["x-request-id"] != "bad id <script>"
