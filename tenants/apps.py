from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from agents_config.events import agent_config_changed
        from sessions_app.events import session_report_ready, session_status_changed
        from tenants import webhooks

        session_status_changed.connect(
            webhooks.on_session_status_changed, dispatch_uid="webhooks_session_status"
        )
        session_report_ready.connect(
            webhooks.on_session_report_ready, dispatch_uid="webhooks_session_report"
        )
        agent_config_changed.connect(
            webhooks.on_agent_config_changed, dispatch_uid="webhooks_agent_published"
        )
