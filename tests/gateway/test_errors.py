"""Every error has its status and OpenAI shape; upstream messages keep their meaning but lose secrets."""

from __future__ import annotations

import orjson
import pytest

from gateway import errors


@pytest.mark.smoke
def test_error_renders_in_openai_shape():
    err = errors.BadRequestError(
        "Missing required parameter: 'messages'.", code="missing_required_parameter", param="messages"
    )

    assert err.status == 400
    assert orjson.loads(err.to_openai_json()) == {
        "error": {
            "message": "Missing required parameter: 'messages'.",
            "type": "invalid_request_error",
            "code": "missing_required_parameter",
            "param": "messages",
        }
    }


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.BadRequestError, 400),
        (errors.AuthenticationError, 401),
        (errors.PermissionDeniedError, 403),
        (errors.NotFoundError, 404),
        (errors.GoneError, 410),
        (errors.PayloadTooLargeError, 413),
        (errors.UnsupportedMediaTypeError, 415),
        (errors.RateLimitError, 429),
        (errors.UpstreamError, 502),
        (errors.UpstreamUnavailableError, 503),
        (errors.UpstreamTimeoutError, 504),
    ],
)
def test_each_error_class_has_its_status(cls, status):
    err = cls("boom")
    body = orjson.loads(err.to_openai_json())["error"]
    assert err.status == status
    assert isinstance(err, errors.GatewayError)
    assert body["message"] == "boom" and body["type"] and "param" in body and "code" in body


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, errors.UpstreamBadRequestError, "upstream_bad_request"),
        (401, errors.UpstreamError, "upstream_auth_failed"),
        (403, errors.UpstreamError, "upstream_auth_failed"),
        (404, errors.UpstreamError, "upstream_not_found"),
        (429, errors.UpstreamRateLimitError, "upstream_rate_limited"),
        (500, errors.UpstreamError, "bad_gateway"),
        (503, errors.UpstreamUnavailableError, "upstream_unavailable"),
        (529, errors.UpstreamUnavailableError, "upstream_unavailable"),
        (504, errors.UpstreamTimeoutError, "upstream_timeout"),
    ],
)
def test_upstream_status_maps_to_error_class(status, cls, code):
    err = errors.upstream_error_for_status(status, "nope", provider="openai")
    assert type(err) is cls
    assert err.code == code
    assert err.upstream_status == status


def test_upstream_auth_failure_is_not_the_callers_401():
    err = errors.upstream_error_for_status(401, "Incorrect API key provided", provider="openai")
    assert err.status == 502


def test_upstream_rate_limit_keeps_retry_after():
    err = errors.upstream_error_for_status(429, "slow down", provider="anthropic", retry_after="7")
    assert err.status == 429 and err.headers == {"Retry-After": "7"} and err.retryable


@pytest.mark.smoke
def test_sanitize_strips_keys_tokens_and_query_secrets():
    message = (
        "Incorrect API key provided: sk-proj-abcdef1234567890XYZ. Header Authorization: Bearer abc.def-123 "
        "failed; see https://myres.openai.azure.com/openai/deployments/x?api-version=1&key=SECRETKEY "
        "and key=AIzaSyA1234567890abcdefghijklmnopqrstu for AKIAABCDEFGHIJKLMNOP"
    )
    clean = errors.sanitize_message(message)
    for secret in (
        "sk-proj-abcdef1234567890XYZ",
        "abc.def-123",
        "SECRETKEY",
        "AIzaSy",
        "AKIAABCDEFGHIJKLMNOP",
        "myres",
    ):
        assert secret not in clean
    assert "Incorrect API key provided" in clean


def test_sanitize_strips_the_targets_own_secret_and_internal_hosts():
    message = (
        "upstream vllm-7.ml.svc.cluster.local:8000 at 10.2.3.4:8000 rejected token my-plain-secret-value (gpu-box.corp)"
    )
    clean = errors.sanitize_message(message, secrets=["my-plain-secret-value"], hosts=["vllm-7.ml.svc.cluster.local"])
    assert "my-plain-secret-value" not in clean
    assert "10.2.3.4" not in clean
    assert "svc.cluster.local" not in clean
    assert "gpu-box.corp" not in clean
    assert "rejected token" in clean


def test_upstream_error_message_is_sanitized_and_names_the_provider():
    err = errors.upstream_error_for_status(
        401, "Invalid x-api-key sk-ant-api03-SECRETSECRET", provider="anthropic", secrets=["sk-ant-api03-SECRETSECRET"]
    )
    assert "SECRETSECRET" not in err.message
    assert err.message.startswith("anthropic error:")
