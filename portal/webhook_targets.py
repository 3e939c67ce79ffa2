"""Where a team's webhook may point: never at the platform itself nor at a private address, unless allowed.

A webhook makes the platform send requests to a URL a team chose, from inside the company's network, so
without a check a team could aim it at the metadata service (``169.254.169.254``), an internal admin
console, or the platform's own API. ``check_target()`` resolves the URL's host and refuses:

- a URL that is not https when ``WEBHOOK_REQUIRE_HTTPS`` (on wherever ``HTTPS_ONLY`` is, i.e. production);
- the platform itself (``SITE_URL``'s host and port, and ``ALLOWED_HOSTS`` on that port);
- any address that is not globally routable (loopback, private, link-local, CGNAT, reserved, multicast),
  unless it lies in ``WEBHOOK_ALLOWED_NETWORKS``, the CIDRs an operator allows (say, an internal receiver).

Every address a name resolves to must pass, and the delivery then connects to the checked address itself
(``pinned_request``), so a name that resolves differently a moment later (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


class UnsafeWebhookTarget(ValueError):
    """The URL may not receive webhooks; the message says why (without the URL's path or credentials)."""


class UnresolvableTarget(UnsafeWebhookTarget):
    """The host does not resolve (now): no delivery; a webhook may still be saved, as DNS may catch up."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL: the address to connect to, and the URL with that address in place of the name."""

    host: str
    address: str
    pinned_url: str
    port: int


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.WEBHOOK_ALLOWED_NETWORKS]


def _own_origins() -> set[tuple[str, int]]:
    """The platform's own (host, port) pairs: ``SITE_URL``'s, and each of ``ALLOWED_HOSTS`` on that port."""
    site = urlsplit(settings.SITE_URL)
    port = site.port or (443 if site.scheme == "https" else 80)
    hosts = {h.strip("[]").lower() for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")}
    if site.hostname:
        hosts.add(site.hostname.lower())
    return {(host, port) for host in hosts}


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableTarget(f"the host '{host}' cannot be resolved") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_target(url: str) -> Target:
    """The checked target of ``url``; raises ``UnsafeWebhookTarget`` saying why it may not be called."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise UnsafeWebhookTarget("only http(s) URLs with a host receive webhooks")
    if settings.WEBHOOK_REQUIRE_HTTPS and scheme != "https":
        raise UnsafeWebhookTarget("webhooks are sent over https only here")
    port = parts.port or (443 if scheme == "https" else 80)
    if (host, port) in _own_origins():
        raise UnsafeWebhookTarget(f"'{host}:{port}' is this platform itself")
    allowed = _allowed_networks()
    addresses = _addresses(host, port)
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global and not any(ip in network for network in allowed):
            raise UnsafeWebhookTarget(f"'{host}' is a private or internal address ({ip}); an operator may allow "
                                      "its network with WEBHOOK_ALLOWED_NETWORKS")
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:  # a receiver's credential in the URL still reaches it
        netloc = f"{userinfo}@{netloc}"
    return Target(host=host, address=address, port=port,
                  pinned_url=urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")))
