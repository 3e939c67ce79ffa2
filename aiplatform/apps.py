from django.apps import AppConfig


class AiplatformConfig(AppConfig):
    name = "aiplatform"
    verbose_name = "Platform core"

    def ready(self) -> None:
        from aiplatform import signals  # noqa: F401  (connects the audit receivers)
