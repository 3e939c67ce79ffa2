"""The invited person does not type their address again: sign-up comes pre-filled from the invitation."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from aiplatform import services
from aiplatform.roles import TenantRole


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=[])
def test_the_signup_link_of_an_invitation_fills_in_the_address(client, tenant_a):
    _, token = services.invite_member(actor=None, tenant=tenant_a, email="guest@partner.org", role=TenantRole.DEVELOPER)
    invitation = client.get(f"/invitations/{token}/").text
    signup_url = re.search(r'href="(/accounts/signup/[^"]+)"', invitation).group(1).replace("&amp;", "&")

    form = client.get(signup_url).text

    assert re.search(r'<input[^>]*name="email"[^>]*value="guest@partner.org"', form)
