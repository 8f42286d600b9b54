"""Writes for agents, one module per topic; each records its audit event and emits its change
event after commit (views, admin actions, commands and tasks call these, never the ORM).

- ``agents``: the lifecycle (create, update the draft, publish, rollback, duplicate, enable,
  import, delete);
- ``edits``: the API's partial writes (sections, schema fields, tracing, guarded delete);
- ``outbound``: who may change outbound URLs and where platform keys may go;
- ``common``: the domain errors and helpers they share.

Test-suite writes are in ``agents_config.test_suites.services``. The public names are
importable from ``agents_config.services`` as before.
"""

from __future__ import annotations

from agents_config.services.agents import (
    UnknownTemplate,
    agent_create,
    agent_create_from_template,
    agent_delete,
    agent_duplicate,
    agent_grant_role_permissions,
    agent_import,
    agent_lock_for_edit,
    agent_publish,
    agent_rollback,
    agent_set_enabled,
    agent_touch_draft,
    agent_update_draft,
)
from agents_config.services.common import (
    AgentConflict,
    OutboundURLForbidden,
    StaleRevision,
)
from agents_config.services.edits import (
    READ_ONLY_KEYS,
    SchemaFieldMissing,
    agent_add_schema_field,
    agent_delete_if_idle,
    agent_remove_schema_field,
    agent_set_tracing,
    agent_update_sections,
    deep_merge,
)
from agents_config.services.outbound import (
    agent_outbound_check,
)

__all__ = [
    "READ_ONLY_KEYS",
    "AgentConflict",
    "OutboundURLForbidden",
    "SchemaFieldMissing",
    "StaleRevision",
    "UnknownTemplate",
    "agent_add_schema_field",
    "agent_create",
    "agent_create_from_template",
    "agent_delete",
    "agent_delete_if_idle",
    "agent_duplicate",
    "agent_grant_role_permissions",
    "agent_import",
    "agent_lock_for_edit",
    "agent_outbound_check",
    "agent_publish",
    "agent_remove_schema_field",
    "agent_rollback",
    "agent_set_enabled",
    "agent_set_tracing",
    "agent_touch_draft",
    "agent_update_draft",
    "agent_update_sections",
    "deep_merge",
]
