from django.apps import AppConfig


class AgentsConfigConfig(AppConfig):
    name = "agents_config"
    verbose_name = "Agents"

    def ready(self) -> None:
        from agents_config import checks  # noqa: F401  (registers the system checks)
        from agents_config.config_broadcast import publish_change
        from agents_config.events import agent_config_changed

        agent_config_changed.connect(publish_change, dispatch_uid="publish_config_change")
        _register_api_errors()


def _register_api_errors() -> None:
    """The API answers for this app's domain errors (the shared handler imports no app)."""
    from agents_config.contracts import ContractError
    from agents_config.services import AgentConflict, OutboundURLForbidden, StaleRevision
    from tenants.platform.exceptions import (
        Conflict,
        FieldPermissionDenied,
        InvalidConfiguration,
        PreconditionFailed,
        register_exception_mapping,
    )

    register_exception_mapping(ContractError, lambda exc: InvalidConfiguration(fields=exc.errors))
    register_exception_mapping(
        OutboundURLForbidden, lambda exc: FieldPermissionDenied(fields=exc.fields)
    )
    register_exception_mapping(AgentConflict, lambda exc: Conflict(str(exc)))
    register_exception_mapping(StaleRevision, lambda exc: PreconditionFailed(str(exc)))
