"""The portal's data: applications, subscriptions and their rules, API keys, personal access
tokens, dedicated-hosting requests and in-app notifications."""

from portal.models.applications import Application, DataClassification, Environment
from portal.models.hosting import HostingRequest, HostingStatus, LatencyNeed
from portal.models.keys import ApiKey, PersonalAccessToken
from portal.models.notifications import Notification
from portal.models.subscriptions import AutoApprovalRule, Subscription, SubscriptionStatus, SubscriptionTransition
from portal.models.usage import UsageEvent

__all__ = [
    "ApiKey",
    "Application",
    "AutoApprovalRule",
    "DataClassification",
    "Environment",
    "HostingRequest",
    "HostingStatus",
    "LatencyNeed",
    "Notification",
    "PersonalAccessToken",
    "Subscription",
    "SubscriptionStatus",
    "SubscriptionTransition",
    "UsageEvent",
]
