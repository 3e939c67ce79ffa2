"""Schedule the use-case ranking (``recommendations.rank_use_cases``) on celery beat, hourly at minute 20 (after
the daily usage rollups, which run hourly, have caught up)."""

from django.db import migrations

NAME = "recommendations: rank models per use case"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="20", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={
        "task": "recommendations.rank_use_cases", "crontab": crontab,
        "description": "Rank each use case's models by measured feedback, cost, latency and errors."})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
