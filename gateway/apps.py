from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"

    def ready(self) -> None:
        from aiplatform import health
        from gateway.routing.report import endpoint_report

        # /readyz and the portal's endpoint health page show the gateway's view without importing the gateway.
        health.provide_endpoint_report(endpoint_report)
