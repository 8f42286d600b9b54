"""Run the stuck-session reconciler every minute (editable afterwards in the admin)."""

from django.db import migrations

RECONCILE_TASK = "sessions_app.tasks.reconcile_sessions"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Reconcile sessions stuck pending or provisioned",
        defaults={"task": RECONCILE_TASK, "interval": every_minute},
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=RECONCILE_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0004_session_report")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
