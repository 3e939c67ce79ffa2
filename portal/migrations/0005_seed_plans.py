"""Seed the three plans every platform starts with: free, standard (the default) and premium."""

from decimal import Decimal

from django.db import migrations

PLANS = [
    {"name": "free", "description": "For trying things out: small rates and a small daily budget.",
     "requests_per_minute": 20, "tokens_per_minute": 40_000, "max_concurrency": 2,
     "cost_per_day": Decimal("1"), "cost_per_month": Decimal("10"), "default_output_tokens": 512},
    {"name": "standard", "description": "The default for applications: production rates, a monthly budget.",
     "requests_per_minute": 600, "tokens_per_minute": 1_000_000, "max_concurrency": 50,
     "cost_per_month": Decimal("1000"), "default_output_tokens": 1024},
    {"name": "premium", "description": "High-volume applications.",
     "requests_per_minute": 6000, "tokens_per_minute": 10_000_000, "max_concurrency": 500,
     "cost_per_month": Decimal("20000"), "default_output_tokens": 4096},
]


def seed(apps, schema_editor):
    Plan = apps.get_model("portal", "Plan")
    for plan in PLANS:
        Plan.objects.get_or_create(name=plan["name"], defaults={k: v for k, v in plan.items() if k != "name"})


def unseed(apps, schema_editor):
    apps.get_model("portal", "Plan").objects.filter(name__in=[p["name"] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_plans_limits_rollups_alerts")]
    operations = [migrations.RunPython(seed, unseed)]
