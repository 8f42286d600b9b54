"""Apply the tenants' retention settings once a day (editable afterwards in the admin)."""

from django.db import migrations

RETENTION_TASK = "sessions_app.tasks.apply_retention"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_day, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.get_or_create(
        name="Apply data retention (turns, reports, webhook deliveries, audit events)",
        defaults={"task": RETENTION_TASK, "interval": every_day},
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=RETENTION_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0010_session_list_indexes"),
        ("tenants", "0005_tenant_retention"),
        ("django_celery_beat", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
