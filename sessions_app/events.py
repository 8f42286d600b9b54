"""Session events, sent after the writing transaction commits.

Receivers (webhooks, live notifications) connect here; nothing is sent for a rollback.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: session_id (str), tenant_pk (int), agent_id (slug), version (str),
#         from_status, to_status, reason
session_status_changed = Signal()

# kwargs: session_id (str), tenant_pk (int), agent_id (slug), version (str), status,
#         report (the report document: receivers need not read the report's table)
session_report_ready = Signal()
