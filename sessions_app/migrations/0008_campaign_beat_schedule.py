"""The beat schedule that drives campaigns (editable afterwards in the admin)."""

from django.db import migrations

CAMPAIGN_TASK = "sessions_app.telephony.tasks.tick_campaigns"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Place due campaign calls",
        defaults={"task": CAMPAIGN_TASK, "interval": every_minute},
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=CAMPAIGN_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0007_telephony"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
