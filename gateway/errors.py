"""Typed gateway errors: each carries its HTTP status and OpenAI error type/code; one handler renders them.

Upstream failures become `UpstreamError` subclasses (502 / 503 / 504, or 400 / 429 when the provider
refused the caller's input or rate-limited us). They keep the provider's message, with secrets
(API keys, bearer tokens, `key=` query parameters, AWS keys) and internal URLs and hosts stripped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson


class GatewayError(Exception):
    """Base of every error an application can see. `retryable` tells the router a fallback may help."""

    status: int = 500
    type: str = "api_error"
    code: str | None = None
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers: dict[str, str] = headers or {}

    def to_openai_dict(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def to_openai_json(self) -> bytes:
        """The body an application receives: `{"error": {"message", "type", "code", "param"}}`."""
        return orjson.dumps(self.to_openai_dict())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class BadRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDeniedError(GatewayError):
    status = 403
    type = "invalid_request_error"
    code = "permission_denied"


class PolicyViolationError(PermissionDeniedError):
    """A guardrail policy refused the call: names the policy and rule, never the text that matched."""

    code = "policy_violation"


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class GoneError(GatewayError):
    status = 410
    type = "invalid_request_error"
    code = "model_retired"


class PayloadTooLargeError(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaTypeError(GatewayError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceededError(GatewayError):
    """A budget of the period is spent: retrying before the period resets cannot help."""

    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"


class LimiterUnavailableError(GatewayError):
    """The shared limiter is unreachable and a limit that applies fails closed."""

    status = 503
    type = "api_error"
    code = "limiter_unavailable"


class UpstreamError(GatewayError):
    """The provider failed: 502 by default."""

    status = 502
    type = "upstream_error"
    code = "bad_gateway"
    retryable = True

    def __init__(self, message: str, *, provider: str = "", upstream_status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.provider = provider
        self.upstream_status = upstream_status


class UpstreamBadRequestError(UpstreamError):
    """The provider refused the caller's input (context too long, invalid image, ...): the caller's fault, 400."""

    status = 400
    type = "invalid_request_error"
    code = "upstream_bad_request"
    retryable = False


class UpstreamRateLimitError(UpstreamError):
    """The provider rate-limited the gateway: 429, and worth a fallback to another endpoint."""

    status = 429
    type = "rate_limit_error"
    code = "upstream_rate_limited"


class UpstreamUnavailableError(UpstreamError):
    status = 503
    type = "upstream_error"
    code = "upstream_unavailable"


class UpstreamTimeoutError(UpstreamError):
    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


# --- stripping secrets and internal addresses from provider messages --------------------------------------

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (
        re.compile(
            r"(?i)\b((?:x-)?api[-_]?key|key|token|access_token|sig|signature|client_secret|password)=[^&\s\"']+"
        ),
        r"\1=[redacted]",
    ),
    (re.compile(r"(?i)\b((?:x-)?api[-_]?key|authorization|x-goog-api-key)\s*:\s*[^\s,;\"']+"), r"\1: [redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_*-]{6,}"), "[redacted]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), "[redacted]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted]"),
)
_URL = re.compile(r"\b(?:https?|wss?|grpcs?)://[^\s\"'<>)]+", re.IGNORECASE)
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{2,5})?\b")
_INTERNAL_HOST = re.compile(
    r"\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"\.(?:internal|local|localdomain|lan|corp|intranet|svc|cluster\.local|azure\.com|azure-api\.net"
    r"|amazonaws\.com|googleapis\.com|windows\.net)(?::\d{2,5})?\b",
    re.IGNORECASE,
)
_MAX_MESSAGE = 2000


def sanitize_message(message: str, *, secrets: Iterable[str] = (), hosts: Iterable[str] = ()) -> str:
    """The provider's message without secrets, URLs, IP addresses or internal host names.

    `secrets` are exact values to remove (the target's API key); `hosts` are host names to hide (the
    target's base URL host), on top of the generic patterns.
    """
    for value in secrets:
        if value and len(value) >= 4:
            message = message.replace(value, "[redacted]")
    for pattern, replacement in _SECRET_PATTERNS:
        message = pattern.sub(replacement, message)
    message = _URL.sub("[upstream]", message)
    for host in hosts:
        if host:
            message = re.sub(re.escape(host) + r"(?::\d+)?", "[upstream]", message, flags=re.IGNORECASE)
    message = _IPV4.sub("[upstream]", message)
    message = _INTERNAL_HOST.sub("[upstream]", message)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return message


def upstream_error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    secrets: Iterable[str] = (),
    hosts: Iterable[str] = (),
    retry_after: str | None = None,
    param: str | None = None,
) -> UpstreamError:
    """Map a provider's HTTP status to the error the application sees.

    400/413/422 mean the provider refused the caller's input (400 to the caller, with the field it named,
    ``param``); 401/403/404 mean the gateway's own credentials or configuration are wrong (502: not the
    caller's fault); 429 and 529 are rate limit and overload; 5xx are 502/503/504.
    """
    clean = sanitize_message(message or f"HTTP {status}", secrets=secrets, hosts=hosts)
    text = f"{provider} error: {clean}" if provider else clean
    headers = {"Retry-After": retry_after} if retry_after else None
    kw: dict[str, Any] = {"provider": provider, "upstream_status": status, "headers": headers}
    if status in (400, 413, 422):
        return UpstreamBadRequestError(text, param=param, **kw)
    if status in (401, 403):
        return UpstreamError(text, code="upstream_auth_failed", **kw)
    if status == 404:
        return UpstreamError(text, code="upstream_not_found", **kw)
    if status == 408 or status == 504:
        return UpstreamTimeoutError(text, **kw)
    if status == 429:
        return UpstreamRateLimitError(text, **kw)
    if status in (503, 529):
        return UpstreamUnavailableError(text, **kw)
    return UpstreamError(text, **kw)
