"""Every change to the portal's state goes through one of these functions.

Each checks permission first (``actor=None`` is the system: commands, tasks, the gateway) —
outside the transaction, so the audit row of a refusal survives — then writes in one
transaction that also records the audit event, bumps the ``keys`` config version when what
a key may do changed (gateways reload within about a second), and queues notifications to
leave on commit.
"""

from portal.services.applications import create_application, update_application
from portal.services.gateway_feedback import (
    record_gateway_refusals,
    record_gateway_report,
    record_key_usage,
    record_usage_events,
)
from portal.services.hosting import (
    approve_hosting_request,
    cancel_hosting_request,
    reject_hosting_request,
    request_hosting,
)
from portal.services.keys import (
    create_api_key,
    create_personal_access_token,
    revoke_api_key,
    revoke_personal_access_token,
    rotate_api_key,
    set_key_ip_allowlist,
)
from portal.services.limits import create_plan, set_limits, update_plan
from portal.services.subscriptions import (
    approve_subscription,
    cancel_subscription,
    create_auto_approval_rule,
    deactivate_auto_approval_rule,
    grant_subscription,
    reject_subscription,
    request_subscription,
    resume_subscription,
    suspend_subscription,
)
from portal.services.transitions import InvalidTransition

__all__ = [
    "create_plan",
    "set_limits",
    "update_plan",
    "InvalidTransition",
    "record_usage_events",
    "record_gateway_report",
    "approve_hosting_request",
    "approve_subscription",
    "cancel_hosting_request",
    "cancel_subscription",
    "create_api_key",
    "create_application",
    "create_auto_approval_rule",
    "create_personal_access_token",
    "deactivate_auto_approval_rule",
    "grant_subscription",
    "record_gateway_refusals",
    "record_key_usage",
    "reject_hosting_request",
    "reject_subscription",
    "request_hosting",
    "request_subscription",
    "resume_subscription",
    "revoke_api_key",
    "revoke_personal_access_token",
    "rotate_api_key",
    "set_key_ip_allowlist",
    "suspend_subscription",
    "update_application",
]
