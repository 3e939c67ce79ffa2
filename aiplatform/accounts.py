"""allauth adapters: who may sign up, and how SSO logins are admitted.

Sign-up is open only to addresses in ``SIGNUP_ALLOWED_DOMAINS`` or to holders of an open
invitation (its token is kept in the session when the invitation link is followed).
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.conf import settings
from django.http import HttpRequest

INVITATION_SESSION_KEY = "switchboard_invitation_token"


def email_domain_allowed(email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    return domain in settings.SIGNUP_ALLOWED_DOMAINS


def pending_invitation(request: HttpRequest):
    from aiplatform.selectors import invitation_by_token

    token = request.session.get(INVITATION_SESSION_KEY) if hasattr(request, "session") else None
    invitation = invitation_by_token(token) if token else None
    return invitation if invitation is not None and invitation.is_open else None


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        # allauth refuses a throttled login before Django's user_login_failed fires; audit it here.
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError:
            from aiplatform.audit import record_event

            claimed = str(credentials.get("email") or credentials.get("username") or "")[:254]
            record_event(action="security.login_throttled", actor_label="anonymous", changes={"login": claimed})
            raise

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(settings.SIGNUP_ALLOWED_DOMAINS) or pending_invitation(request) is not None

    def is_email_verified(self, request: HttpRequest, email: str) -> bool:
        # Following the e-mailed invitation link proves the invited address: no second e-mail.
        invitation = pending_invitation(request)
        if invitation is not None and invitation.email.lower() == email.lower():
            return True
        return super().is_email_verified(request, email)

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email).lower()
        request = self.request
        invitation = pending_invitation(request) if request is not None else None
        if invitation is not None and invitation.email.lower() == email:
            return email
        if not email_domain_allowed(email):
            raise forms.ValidationError(
                "Sign-up is limited to company e-mail addresses. Ask a team admin for an invitation."
            )
        return email


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        email = (sociallogin.user.email or "").lower()
        return bool(email) and (email_domain_allowed(email) or pending_invitation(request) is not None)
