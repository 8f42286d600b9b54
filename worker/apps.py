from typing import Any

from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Agent worker"

    def ready(self) -> None:
        from celery.signals import worker_init

        from agents_config.hooks import register_text_engine
        from worker.plugins import register_for_this_process, register_provider_plugins

        register_for_this_process()
        register_text_engine(_text_conversation_class)
        # A Celery worker imports them before its pool starts (thread pools included).
        worker_init.connect(lambda **_: register_provider_plugins(), weak=False)


def _text_conversation_class() -> Any:
    """The engine the test suites run versions on (imported on first use: livekit is heavy)."""
    from worker.textmode import TextConversation

    return TextConversation
