"""Drain the gateway's usage events into the ledger every minute (``portal.drain_usage``).

The gateway nudges the consumer after each flush interval in which it recorded events, so the
ledger is about a second behind; this schedule is the net under a lost nudge (a gateway killed
right after writing, a broker hiccup) and reclaims entries a killed worker held.
"""

from django.db import migrations

TASK_NAME = "portal: drain usage events into the ledger"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={"task": "portal.drain_usage", "interval": every_minute, "expire_seconds": 60,
                  "description": "Write usage events from the Redis stream or the journal to the ledger."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("portal", "0006_schedule_usage_rollups")]
    operations = [migrations.RunPython(schedule, unschedule)]
