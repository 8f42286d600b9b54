"""The one table that maps tenant roles to what they may do.

Every permission check (API, admin, guardian grants) reads this map; nothing else decides
what a role allows.
"""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


class Action(StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    CHANGE_OUTBOUND_URLS = "change outbound URLs of"
    """Set or change a URL the platform calls for the tenant (``llm_config.base_url``,
    ``tracing_config.endpoint``; later tools and MCP servers): where requests and keys go."""
    # Run the tenant itself: its members, API keys, provider credentials, webhooks, audit log.
    MANAGE = "manage"
    MANAGE_TELEPHONY = "manage telephony of"
    """Register phone numbers, set the outbound trunk, run campaigns: these spend the tenant's
    money with its SIP provider."""


#: Sessions whose agent was deleted have no object to check: who runs the tenant sees them.
ORPHAN_SESSIONS_ACTION = Action.MANAGE

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.ADMIN: frozenset(
        {
            Action.CREATE,
            Action.READ,
            Action.UPDATE,
            Action.DELETE,
            Action.CHANGE_OUTBOUND_URLS,
            Action.MANAGE,
            Action.MANAGE_TELEPHONY,
        }
    ),
    Role.DEVELOPER: frozenset({Action.READ, Action.UPDATE}),
    Role.VIEWER: frozenset({Action.READ}),
}

# Object permission codename (on Agent) that each action needs.
ACTION_PERMISSION: dict[Action, str] = {
    Action.READ: "view_agent",
    Action.UPDATE: "change_agent",
    Action.DELETE: "delete_agent",
}

HTTP_METHOD_ACTION: dict[str, Action] = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "OPTIONS": Action.READ,
    "POST": Action.UPDATE,
    "PUT": Action.UPDATE,
    "PATCH": Action.UPDATE,
    "DELETE": Action.DELETE,
}


def role_allows(role: str, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


def agent_permissions_for_role(role: str) -> list[str]:
    """Object permission codenames a role's group receives on each agent of its tenant."""
    return [perm for action, perm in ACTION_PERMISSION.items() if role_allows(role, action)]
