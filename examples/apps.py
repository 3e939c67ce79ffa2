from __future__ import annotations

from django.apps import AppConfig


class ExamplesConfig(AppConfig):
    name = "examples"
    verbose_name = "Example store"

    def ready(self) -> None:
        from examples import permissions  # noqa: F401  (registers the example store's actions)
