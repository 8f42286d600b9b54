from django.apps import AppConfig


class AgentsConfigConfig(AppConfig):
    name = "agents_config"
    verbose_name = "Agents"

    def ready(self) -> None:
        from agents_config import checks  # noqa: F401  (registers the system checks)
        from agents_config.config_broadcast import publish_change
        from agents_config.events import agent_config_changed

        agent_config_changed.connect(publish_change, dispatch_uid="publish_config_change")
