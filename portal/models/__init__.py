"""The portal's data: applications, subscriptions and their rules, API keys, personal access
tokens, dedicated-hosting requests, in-app notifications, plans and limits, the usage
ledger with its rollups, the results of shadow traffic, and the record of guardrail decisions."""

from portal.models.applications import Application, DataClassification, Environment
from portal.models.batches import FINAL_STATUSES, Batch, BatchLine, BatchStatus, LineState
from portal.models.feedback import Feedback, FeedbackStatus
from portal.models.files import FilePurpose, UploadedFile
from portal.models.guardrails import GuardDecision, PayloadMode, PayloadRecord
from portal.models.hosting import HostingRequest, HostingStatus, LatencyNeed
from portal.models.keys import ApiKey, PersonalAccessToken
from portal.models.limits import (
    AlertWebhook,
    BudgetAlert,
    BudgetMode,
    LimitLevel,
    LimitSettings,
    Plan,
    RedisFailure,
    UsageRollup,
    WebhookDelivery,
)
from portal.models.notifications import Notification
from portal.models.playground import ChatMessage, ComparedAnswer, Comparison, Conversation, PlaygroundAccess
from portal.models.shadow import ShadowResult
from portal.models.subscriptions import AutoApprovalRule, Subscription, SubscriptionStatus, SubscriptionTransition
from portal.models.usage import UsageEvent

__all__ = [
    "FINAL_STATUSES",
    "Batch",
    "BatchLine",
    "BatchStatus",
    "LineState",
    "AlertWebhook",
    "BudgetAlert",
    "BudgetMode",
    "LimitLevel",
    "LimitSettings",
    "Plan",
    "RedisFailure",
    "UsageRollup",
    "ApiKey",
    "Application",
    "AutoApprovalRule",
    "DataClassification",
    "Environment",
    "Feedback",
    "FilePurpose",
    "FeedbackStatus",
    "GuardDecision",
    "PayloadMode",
    "PayloadRecord",
    "HostingRequest",
    "HostingStatus",
    "LatencyNeed",
    "Notification",
    "ChatMessage",
    "ComparedAnswer",
    "Comparison",
    "Conversation",
    "PlaygroundAccess",
    "PersonalAccessToken",
    "ShadowResult",
    "Subscription",
    "SubscriptionStatus",
    "SubscriptionTransition",
    "UploadedFile",
    "UsageEvent",
    "WebhookDelivery",
]
