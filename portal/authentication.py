"""Personal access tokens for the REST API: ``Authorization: Bearer sbp-…``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.models import PersonalAccessToken
from portal.selectors import access_token_by_secret
from portal.services.keys import TOKEN_SCHEME

# Writing last-used on every call would make each API read a write; once a minute says enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class PersonalAccessTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates as the token's owner. Other bearer values are left to other authenticators."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip().startswith(TOKEN_SCHEME):
            return None
        token = access_token_by_secret(value.strip())
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked personal access token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's owner is deactivated.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class PersonalAccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.PersonalAccessTokenAuthentication"
    name = "personalAccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal access token (sbp-…) created in the portal under Access tokens."}
