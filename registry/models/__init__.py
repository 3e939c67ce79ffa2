"""The registry's data: providers, endpoints, aliases with their routes and routing rules, model cards, vendor
listings, guardrail policies, prompt APIs."""

from registry.models.aliases import AliasKind, AliasStatus, ModelAlias, Route, RoutingStrategy, StickyAssignment
from registry.models.cards import ModelCard, ModelCardVersion
from registry.models.policies import Policy, PolicyVersion
from registry.models.prompts import PromptApi, PromptChange, PromptLabel, PromptVersion
from registry.models.providers import Capability, Endpoint, Provider, ProviderKind
from registry.models.rules import RoutingRule, RoutingRuleTarget
from registry.models.sync import UpstreamModel

__all__ = [
    "AliasKind",
    "AliasStatus",
    "Capability",
    "Endpoint",
    "ModelAlias",
    "ModelCard",
    "ModelCardVersion",
    "Policy",
    "PolicyVersion",
    "PromptApi",
    "PromptChange",
    "PromptLabel",
    "PromptVersion",
    "Provider",
    "ProviderKind",
    "Route",
    "RoutingRule",
    "RoutingRuleTarget",
    "RoutingStrategy",
    "StickyAssignment",
    "UpstreamModel",
]
