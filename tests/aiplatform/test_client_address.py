"""Behind trusted proxies the caller is the address the proxies appended, not the one the client wrote."""

import pytest
from django.test import RequestFactory, override_settings

from aiplatform.client_address import client_address
from aiplatform.middleware import client_ip
from gateway.asgi import _client_ip as gateway_client_ip

SPOOFED = "10.0.0.1"  # what a client writes to look like it is inside a key's allow-list
REAL = "203.0.113.7"  # what the load balancer appended
BALANCER = "192.0.2.10"


@pytest.mark.smoke
@override_settings(TRUST_X_FORWARDED_PROTO=True, TRUSTED_PROXY_HOPS=1)
def test_one_trusted_hop_takes_the_rightmost_entry():
    assert client_address(peer=BALANCER, forwarded_for=f"{SPOOFED}, {REAL}") == REAL


@override_settings(TRUST_X_FORWARDED_PROTO=True, TRUSTED_PROXY_HOPS=2)
def test_two_trusted_hops_skip_the_inner_proxy():
    assert client_address(peer=BALANCER, forwarded_for=f"{SPOOFED}, {REAL}, 198.51.100.4") == REAL


@override_settings(TRUST_X_FORWARDED_PROTO=True, TRUSTED_PROXY_HOPS=2)
def test_a_chain_shorter_than_the_hops_gives_its_first_entry():
    assert client_address(peer=BALANCER, forwarded_for=REAL) == REAL


@override_settings(TRUST_X_FORWARDED_PROTO=False)
def test_without_a_trusted_proxy_the_header_is_ignored():
    assert client_address(peer=BALANCER, forwarded_for=f"{SPOOFED}, {REAL}") == BALANCER


@override_settings(TRUST_X_FORWARDED_PROTO=True, TRUSTED_PROXY_HOPS=1)
def test_the_django_stack_does_not_believe_the_leftmost_entry():
    request = RequestFactory().get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {REAL}")
    assert client_ip(request) == REAL


@override_settings(TRUST_X_FORWARDED_PROTO=True, TRUSTED_PROXY_HOPS=1)
def test_the_gateway_does_not_believe_the_leftmost_entry():
    scope = {"client": (BALANCER, 40000)}
    assert gateway_client_ip(scope, {"x-forwarded-for": f"{SPOOFED}, {REAL}"}) == REAL
