from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        _connect_webhooks()  # first, as when the tenants app connected them

        from sessions_app.events import session_status_changed
        from sessions_app.telephony.models import PhoneNumber
        from sessions_app.telephony.services import (
            on_phone_number_deleted,
            on_session_status_changed,
        )

        session_status_changed.connect(
            on_session_status_changed, dispatch_uid="telephony-call-ended"
        )
        post_delete.connect(
            on_phone_number_deleted, sender=PhoneNumber, dispatch_uid="telephony-number-deleted"
        )
        _register_api_errors()
        _register_agent_hooks()


def _connect_webhooks() -> None:
    """Webhooks deliver agent and session events (``sessions_app.webhooks``)."""
    from agents_config.events import agent_config_changed
    from sessions_app.events import session_report_ready, session_status_changed
    from sessions_app.webhooks import receivers

    session_status_changed.connect(
        receivers.on_session_status_changed, dispatch_uid="webhooks_session_status"
    )
    session_report_ready.connect(
        receivers.on_session_report_ready, dispatch_uid="webhooks_session_report"
    )
    agent_config_changed.connect(
        receivers.on_agent_config_changed, dispatch_uid="webhooks_agent_published"
    )


def _register_api_errors() -> None:
    """The API answers for this app's domain errors (the shared handler imports no app)."""
    from rest_framework.exceptions import NotFound

    from sessions_app.billing import BudgetExceeded
    from sessions_app.services import ProvisioningUnavailable, QuotaExceeded, SessionRejected
    from tenants.platform.exceptions import (
        PROVISIONING_RETRY_AFTER_SECONDS,
        BudgetExceededError,
        Conflict,
        QuotaExceededError,
        ServiceUnavailable,
        register_exception_mapping,
    )

    def unavailable(exc: ProvisioningUnavailable) -> Exception:
        answer = ServiceUnavailable(str(exc))
        answer.wait = PROVISIONING_RETRY_AFTER_SECONDS
        return answer

    register_exception_mapping(QuotaExceeded, QuotaExceededError)
    register_exception_mapping(ProvisioningUnavailable, unavailable)
    register_exception_mapping(BudgetExceeded, BudgetExceededError)
    register_exception_mapping(
        SessionRejected,
        lambda exc: NotFound(str(exc)) if exc.status == 404 else Conflict(str(exc)),
    )


def _register_agent_hooks() -> None:
    """What ``agents_config`` asks of sessions (it may not import this app)."""
    from agents_config.hooks import register_delete_guard, register_turn_latency
    from sessions_app.selectors import agent_open_sessions_refusal, agent_turn_latency

    register_delete_guard(agent_open_sessions_refusal)
    register_turn_latency(agent_turn_latency)
