"""Indexes for large session tables, built without locking writes (CREATE INDEX CONCURRENTLY).

Non-atomic: PostgreSQL cannot build an index concurrently inside a transaction. Other
databases (the quick start's SQLite) get a plain CREATE INDEX.
"""

from django.contrib.postgres.operations import AddIndexConcurrently as _Concurrently
from django.db import migrations, models


class AddIndexConcurrently(_Concurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("agents_config", "0001_initial"),
        ("sessions_app", "0009_session_worker_job"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(fields=["agent", "-created_at"], name="session_agent_recent"),
        ),
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(
                fields=["tenant", "user_id", "-created_at"], name="session_tenant_user"
            ),
        ),
    ]
