from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0013_guardrail_decisions'),
    ]

    operations = [
        migrations.AddField(
            model_name='apikey',
            name='allowed_aliases',
            field=models.JSONField(blank=True, default=list, help_text="Model aliases this key may call, among its application's subscriptions; empty: all of them."),
        ),
    ]
