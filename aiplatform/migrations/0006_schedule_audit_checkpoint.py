"""Schedule the audit chain's checkpoint (``aiplatform.write_audit_checkpoint``) every minute."""

from django.db import migrations

TASK_NAME = "aiplatform: checkpoint the audit chain"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={"task": "aiplatform.write_audit_checkpoint", "interval": every_minute,
                  "description": "Write the audit chain's head to the signed checkpoint file and the log."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aiplatform", "0005_audit_chain_keyed"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
