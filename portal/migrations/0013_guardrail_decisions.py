"""The record of guardrail decisions (issue 14): the decisions on the ledger row and as GuardDecision rows,
the payloads the tenants' payload logging keeps (PayloadRecord), and the payloads' prune on celery beat at
04:15 UTC, away from the ledger's (03:45).
"""

import django.db.models.deletion
from django.db import migrations, models


PRUNE_TASK = "portal: prune payload records"


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="15", hour="4", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.get_or_create(name=PRUNE_TASK, defaults={
        "task": "portal.prune_payload_records", "crontab": crontab,
        "description": "Delete payload records older than PAYLOAD_RETENTION_DAYS."})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=PRUNE_TASK).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('aiplatform', '0006_schedule_audit_checkpoint'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
        ('portal', '0012_shadow_results'),
    ]

    operations = [
        migrations.AddField(
            model_name='usageevent',
            name='guard',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='PayloadRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request_id', models.CharField(max_length=128, unique=True)),
                ('occurred_at', models.DateTimeField(db_index=True)),
                ('alias', models.CharField(max_length=100)),
                ('mode', models.CharField(choices=[('metadata', 'Metadata only (sizes, no text)'), ('redacted', 'Redacted (the text as masked for the model)'), ('full', 'Full (the original text)')], max_length=16)),
                ('request_text', models.TextField(blank=True, null=True)),
                ('response_text', models.TextField(blank=True, null=True)),
                ('messages', models.PositiveIntegerField(default=0)),
                ('chars', models.PositiveIntegerField(default=0)),
                ('images', models.PositiveIntegerField(default=0)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.tenant')),
            ],
            options={
                'ordering': ['-occurred_at'],
            },
        ),
        migrations.CreateModel(
            name='GuardDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request_id', models.CharField(max_length=128)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('occurred_at', models.DateTimeField()),
                ('alias', models.CharField(max_length=100)),
                ('policy', models.CharField(blank=True, max_length=63)),
                ('policy_version', models.PositiveIntegerField(default=0)),
                ('stage', models.CharField(max_length=8)),
                ('detector', models.CharField(max_length=32)),
                ('label', models.CharField(blank=True, max_length=100)),
                ('action', models.CharField(max_length=16)),
                ('count', models.PositiveIntegerField(default=1)),
                ('application', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='portal.application')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aiplatform.tenant')),
            ],
            options={
                'ordering': ['-occurred_at', 'request_id', 'position'],
                'indexes': [models.Index(fields=['occurred_at'], name='guard_decision_time'), models.Index(fields=['tenant', 'occurred_at'], name='guard_decision_tenant_time'), models.Index(fields=['alias', 'occurred_at'], name='guard_decision_alias_time'), models.Index(fields=['action', 'occurred_at'], name='guard_decision_action_time')],
                'constraints': [models.UniqueConstraint(fields=('request_id', 'position'), name='guard_decision_once')],
            },
        ),
        migrations.RunPython(schedule, unschedule),
    ]
