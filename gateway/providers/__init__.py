"""Provider adapters, one module per provider behind one interface (`gateway.providers.base.Adapter`).

`ADAPTERS` maps a provider kind (as the registry names it) to its adapter.
"""

from __future__ import annotations

from gateway.providers import anthropic, azure_openai, bedrock, demo, gemini, openai, sagemaker
from gateway.providers.base import PROVIDER_KINDS, Adapter, UpstreamTarget

ADAPTERS: dict[str, Adapter] = {
    "openai": openai.ADAPTER,
    "openai-compatible": openai.COMPATIBLE_ADAPTER,
    "azure-openai": azure_openai.ADAPTER,
    "anthropic": anthropic.ADAPTER,
    "bedrock": bedrock.ADAPTER,
    "sagemaker": sagemaker.ADAPTER,
    "gemini": gemini.ADAPTER,
    "demo": demo.ADAPTER,
}
assert set(ADAPTERS) == set(PROVIDER_KINDS)


def adapter_for(kind: str) -> Adapter:
    """The adapter of a provider kind; KeyError for an unknown kind (a registry bug, not a caller's)."""
    return ADAPTERS[kind]


__all__ = ["ADAPTERS", "Adapter", "UpstreamTarget", "adapter_for"]
