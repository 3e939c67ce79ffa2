"""The caller's address, as both the Django stack and the gateway see it.

Behind a load balancer the TCP peer is the balancer, and the caller's address travels in
``X-Forwarded-For``. Each proxy *appends* the address it received the connection from, so only
the right-hand entries were written by proxies we trust; everything to their left is whatever the
client sent. With ``TRUSTED_PROXY_HOPS`` proxies in front of us, the caller is the entry that many
places from the right. The leftmost entry is never believed (a client sets it to any address it
likes, e.g. one inside a key's IP allow-list).
"""

from __future__ import annotations

from django.conf import settings


def client_address(*, peer: str | None, forwarded_for: str | None) -> str | None:
    """The caller's address: from ``X-Forwarded-For`` when a proxy is trusted, else the TCP peer."""
    if not settings.TRUST_X_FORWARDED_PROTO or not forwarded_for:
        return peer
    entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    if not entries:
        return peer
    hops = settings.TRUSTED_PROXY_HOPS
    # Fewer entries than trusted proxies: all of them were written by our proxies; the first is the caller.
    return entries[-hops] if len(entries) >= hops else entries[0]
