"""An invitation opens sign-up to the invited address only, even outside the allowed domains."""

import pytest
from django.test import override_settings

from aiplatform import services
from aiplatform.models import Membership, User
from aiplatform.roles import TenantRole

NEW_PASSWORD = "Sturdy-Lantern-2048"


def sign_up(client, email, next_url=""):
    url = "/accounts/signup/" + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


@pytest.fixture
def invitation_link(tenant_a):
    _, token = services.invite_member(actor=None, tenant=tenant_a, email="guest@partner.org", role=TenantRole.DEVELOPER)
    return f"/invitations/{token}/"


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=[])
def test_the_invited_address_signs_up_from_the_link_and_joins_the_team(client, invitation_link, tenant_a):
    page = client.get(invitation_link)
    assert "Join Alpha" in page.text

    response = sign_up(client, "guest@partner.org", next_url=invitation_link)

    # The link proved the address, so no verification e-mail: signed in, back on the invitation.
    assert response.status_code == 302
    assert response["Location"] == invitation_link
    guest = User.objects.get(email="guest@partner.org")
    assert guest.emailaddress_set.get().verified
    joined = client.post(invitation_link, follow=True)
    assert joined.wsgi_request.user == guest
    assert "You joined Alpha." in joined.text
    assert Membership.objects.get(user=guest, tenant=tenant_a).role == TenantRole.DEVELOPER


@override_settings(SIGNUP_ALLOWED_DOMAINS=[])
def test_another_address_is_refused_even_with_the_invitation_in_hand(client, invitation_link):
    client.get(invitation_link)

    response = sign_up(client, "someone-else@partner.org")

    assert response.status_code == 200
    assert "Sign-up is limited to company e-mail addresses. Ask a team admin for an invitation." in response.text
    assert not User.objects.filter(email="someone-else@partner.org").exists()
