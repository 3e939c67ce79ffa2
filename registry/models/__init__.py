"""The registry's data: providers, endpoints, aliases and their routes, model cards, vendor listings."""

from registry.models.aliases import AliasKind, AliasStatus, ModelAlias, Route
from registry.models.cards import ModelCard, ModelCardVersion
from registry.models.providers import Capability, Endpoint, Provider, ProviderKind
from registry.models.sync import UpstreamModel

__all__ = [
    "AliasKind",
    "AliasStatus",
    "Capability",
    "Endpoint",
    "ModelAlias",
    "ModelCard",
    "ModelCardVersion",
    "Provider",
    "ProviderKind",
    "Route",
    "UpstreamModel",
]
