"""Bad input gets a clear 4xx in OpenAI's error shape, before any upstream call, and the gateway keeps serving."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

CHAT = "/chat/completions"


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"message", "type", "code", "param"} <= set(body["error"])
    assert response.headers["x-request-id"]
    return body["error"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b'{"model": "fast-chat", "messages": [', 400, None),  # malformed JSON
        (b'\xff\xfe{"model": "fast-chat"}', 400, None),  # invalid UTF-8
        (b'[1, 2, 3]', 400, None),  # not an object
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "model"),
        (b'{"model": "fast-chat"}', 400, "messages"),
        (b'{"model": "fast-chat", "messages": []}', 400, "messages"),
        (b'{"model": "fast-chat", "messages": "hi"}', 400, "messages"),
        (b'{"model": "fast-chat", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}', 400, "temperature"),
        (b'{"model": 42, "messages": [{"role": "user", "content": "hi"}]}', 400, "model"),
    ],
)
def test_malformed_requests_are_400_naming_the_problem(gateway, body, status, param):
    response = gateway.post(CHAT, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param or param in error["message"]


def test_wrong_content_type_is_415(gateway):
    response = gateway.post(CHAT, content=b"model=fast-chat", headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and "application/json" in error_of(response)["message"]


def test_a_huge_body_is_413(gateway):
    huge = b'{"model": "fast-chat", "messages": [{"role": "user", "content": "' + b"a" * (17 * 1024 * 1024) + b'"}]}'
    response = gateway.post(CHAT, content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"


def test_unknown_fields_pass_through_to_openai_compatible_upstreams(gateway, fake_upstream):
    response = gateway.post(CHAT, json={"model": "fast-chat", "messages": [{"role": "user", "content": "hi"}],
                                        "logit_bias": {"50256": -100}, "x_custom": 1})
    assert response.status_code == 200
    sent = httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()[-1]["body"]
    assert sent["logit_bias"] == {"50256": -100} and sent["x_custom"] == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"authorization": "Bearer not-a-switchboard-key"}, "invalid_api_key"),
        ({"authorization": "Bearer sb-" + "A" * 43}, "invalid_api_key"),
    ],
)
def test_missing_malformed_and_unknown_keys_are_401(gateway, headers, code):
    response = httpx.post(gateway.url + CHAT, headers=headers,
                          json={"model": "fast-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401 and error_of(response)["code"] == code


def test_unknown_path_and_wrong_method(gateway):
    assert gateway.get("/nope").status_code == 404
    wrong = gateway.get(CHAT)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    error_of(wrong)


def test_upstream_failure_is_502_without_its_secrets_or_urls(gateway, fake_upstream):
    response = gateway.post(CHAT, json={"model": "broken-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502
    message = error_of(response)["message"]
    assert "upstream says 500" in message
    assert "sk-upstream-secret" not in message and "127.0.0.1" not in message


def test_a_client_that_disconnects_mid_stream_leaves_the_gateway_serving(gateway):
    with httpx.stream("POST", gateway.url + CHAT, headers={"authorization": f"Bearer {gateway.key}"},
                      json={"model": "demo-chat", "stream": True,
                            "messages": [{"role": "user", "content": "tell me a long story " * 20}]}) as response:
        assert response.status_code == 200
        next(response.iter_bytes())  # read a little, then hang up
    after = gateway.post(CHAT, json={"model": "fast-chat", "messages": [{"role": "user", "content": "hi"}]})
    assert after.status_code == 200
