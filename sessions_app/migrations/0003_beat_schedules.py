"""Create the default Celery beat schedules (editable afterwards in the admin)."""

from django.db import migrations

EXPIRY_TASK = "sessions_app.tasks.expire_sessions"
RESET_TASK = "sessions_app.tasks.reset_monthly_quotas"


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Expire sessions past expires_at",
        defaults={"task": EXPIRY_TASK, "interval": every_minute},
    )
    # Hourly through the first day of each month (UTC): usage is counted per calendar month in
    # each tenant's own zone, so limits reset at the tenant's month start regardless; this task
    # opens the new month's counters for the dashboard.
    first_of_month, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="*", day_of_month="1", month_of_year="*", day_of_week="*",
        timezone="UTC",
    )
    PeriodicTask.objects.get_or_create(
        name="Monthly quota reset",
        defaults={"task": RESET_TASK, "crontab": first_of_month},
    )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[EXPIRY_TASK, RESET_TASK]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0002_usage_counters"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
