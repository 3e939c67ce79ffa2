"""Site-wide middleware: request ids and access log, NUL-free query strings, and the admin MFA requirement."""

from __future__ import annotations

import time

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect

from aiplatform.client_address import client_address
from aiplatform.request_context import client_ip_var, new_request_id, request_id_var

log = structlog.get_logger("switchboard.access")


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address (``aiplatform.client_address`` says which X-Forwarded-For entry is believed)."""
    return client_address(peer=request.META.get("REMOTE_ADDR"), forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"))


class RequestIdMiddleware:
    """Give every request an id, bind it to the logs, return it as ``x-request-id``."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _begin(self, request: HttpRequest):
        request_id = new_request_id(request.headers.get("x-request-id"))
        request.request_id = request_id
        ip = client_ip(request)
        tokens = (request_id_var.set(request_id), client_ip_var.set(ip))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        return tokens, time.perf_counter()

    def _end(self, request, response, tokens, started):
        response["x-request-id"] = request.request_id
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("request_id")
        request_id_var.reset(tokens[0])
        client_ip_var.reset(tokens[1])
        return response

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        tokens, started = self._begin(request)
        return self._end(request, self.get_response(request), tokens, started)

    async def __acall__(self, request):
        tokens, started = self._begin(request)
        response = await self.get_response(request)
        return self._end(request, response, tokens, started)


NUL_IN_QUERY = "The query string contains a NUL character."


class RefuseNulInQueryMiddleware:
    """Answer 400 to a query string holding a NUL character, before any view passes it to the database.

    PostgreSQL refuses NUL in text, so such a filter value was a 500 in every view that filters. The API
    answers in DRF's error shape (``{"detail": …}``), pages with a plain 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_IN_QUERY}, status=400)
            return HttpResponseBadRequest(NUL_IN_QUERY, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# Paths a platform admin without MFA may still reach: enrolling, logging out, probes, assets.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/favicon.ico", "/healthz", "/readyz")


class RequireAdminMfaMiddleware:
    """Send platform admins without a TOTP authenticator to enrol one first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.REQUIRE_ADMIN_MFA
            and request.user.is_authenticated
            and not request.path.startswith(_MFA_EXEMPT_PREFIXES)
        ):
            from aiplatform.selectors import needs_mfa_enrolment

            if needs_mfa_enrolment(request.user):
                return redirect("mfa_activate_totp")
        return self.get_response(request)
