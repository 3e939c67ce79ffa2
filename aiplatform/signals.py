"""Security events from Django and allauth, written to the audit trail."""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from aiplatform.audit import record_event


@receiver(auth_signals.user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record_event(action="auth.login", actor=user, target=user)


@receiver(auth_signals.user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record_event(action="auth.logout", actor=user, target=user)


@receiver(auth_signals.user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Only the claimed login is kept; never the password.
    claimed = str(credentials.get("email") or credentials.get("username") or "")[:254]
    record_event(action="auth.login_failed", actor_label="anonymous", changes={"login": claimed})


@receiver(account_signals.user_signed_up)
def _signed_up(sender, request, user, **kwargs):
    record_event(action="auth.sign_up", actor=user, target=user)


@receiver(account_signals.password_changed)
@receiver(account_signals.password_reset)
def _password_changed(sender, request, user, **kwargs):
    record_event(action="auth.password_change", actor=user, target=user)


@receiver(mfa_signals.authenticator_added)
def _mfa_added(sender, request, user, authenticator, **kwargs):
    record_event(action="auth.mfa_enrol", actor=user, target=user, changes={"type": authenticator.type})


@receiver(mfa_signals.authenticator_removed)
def _mfa_removed(sender, request, user, authenticator, **kwargs):
    record_event(action="auth.mfa_remove", actor=user, target=user, changes={"type": authenticator.type})


@receiver(mfa_signals.authentication_failed)
def _mfa_failed(sender, request, user, **kwargs):
    record_event(action="auth.mfa_failed", actor=user, target=user)
