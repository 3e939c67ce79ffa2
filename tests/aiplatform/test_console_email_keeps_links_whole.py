"""The embedded mode prints e-mails to the console; an invitation link there must be one line, whole."""

from __future__ import annotations

import io

import pytest
from django.core import mail

from aiplatform import services
from aiplatform.mail import ConsoleEmailBackend
from aiplatform.roles import TenantRole


def printed(message: mail.EmailMessage) -> str:
    stream = io.StringIO()
    ConsoleEmailBackend(stream=stream).send_messages([message])
    return stream.getvalue()


@pytest.mark.smoke
def test_a_long_link_is_printed_on_one_line():
    link = "http://127.0.0.1:8000/invitations/" + "x" * 43 + "/"

    output = printed(mail.EmailMessage(subject="Invited", body=f"Accept within 7 days: {link}\n", to=["a@b.org"]))

    assert f"Accept within 7 days: {link}\n" in output
    assert "quoted-printable" not in output


def test_non_ascii_text_is_printed_readable():
    output = printed(mail.EmailMessage(subject="Zürich", body="Join Zürich Team: " + "y" * 90, to=["a@b.org"]))

    assert "Join Zürich Team: " + "y" * 90 in output


def test_the_invitation_email_links_to_site_url(settings, tenant_a, django_capture_on_commit_callbacks):
    settings.SITE_URL = "http://127.0.0.1:8791"

    with django_capture_on_commit_callbacks(execute=True):
        _, token = services.invite_member(actor=None, tenant=tenant_a, email="new@example.com",
                                          role=TenantRole.DEVELOPER)

    assert f"http://127.0.0.1:8791/invitations/{token}/" in mail.outbox[-1].body
