from __future__ import annotations

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from registry import permissions  # noqa: F401  (registers the registry's actions)

    def seed_demo(self, *, admin, tenant, model_owner=None, stdout) -> None:
        """Register the local demo provider and its aliases with full cards, owned by ``model_owner`` (idempotent)."""
        from registry.demo import seed_demo_models

        seed_demo_models(owner=model_owner, stdout=stdout)
