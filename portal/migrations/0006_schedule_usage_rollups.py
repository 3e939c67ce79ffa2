"""Schedule the usage rollups (``portal.rollups``) on celery beat.

Hourly rollups every 5 minutes, so the current hour on the usage pages is at most 5 minutes old;
daily rollups every hour; the reconciliation of the last day at 00:30 UTC (after the day closed
and its late events arrived); the ledger's prune at 03:45 UTC, away from the other two.
"""

from django.db import migrations

INTERVAL_TASKS = [
    # (name, task, every, period, description)
    ("portal: roll up usage by the hour", "portal.rollup_usage_hourly", 5, "minutes",
     "Recompute the hourly usage rollups of the last completed hour and the current one from the ledger."),
    ("portal: roll up usage by the day", "portal.rollup_usage_daily", 1, "hours",
     "Recompute the daily usage rollups of yesterday and today from the ledger."),
]
CRONTAB_TASKS = [
    # (name, task, minute, hour, description)
    ("portal: reconcile usage rollups", "portal.reconcile_usage", "30", "0",
     "Prove the last day's hourly and daily rollups equal the ledger; rebuild those that differ."),
    ("portal: prune the usage ledger", "portal.prune_usage_ledger", "45", "3",
     "Delete raw usage events older than USAGE_RETENTION_DAYS once their days' rollups equal them."),
]


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period, description in INTERVAL_TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "description": description})
    for name, task, minute, hour, description in CRONTAB_TASKS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "description": description})


def unschedule(apps, schema_editor):
    names = [t[0] for t in INTERVAL_TASKS + CRONTAB_TASKS]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_seed_plans"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
