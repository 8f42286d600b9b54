from django.apps import AppConfig


class AgentsConfigConfig(AppConfig):
    name = "agents_config"
    verbose_name = "Agents"
