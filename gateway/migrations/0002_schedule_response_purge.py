"""Schedule the purge of stored responses past their retention (``gateway.purge_expired_responses``) hourly."""

from django.db import migrations

TASK_NAME = "gateway: delete stored responses past their retention"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={"task": "gateway.purge_expired_responses", "interval": every_hour,
                  "description": "Delete the Responses API's stored responses older than "
                                 "GATEWAY_RESPONSES_RETENTION_DAYS."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0001_stored_responses"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
