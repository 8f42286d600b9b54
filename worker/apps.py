from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Agent worker"

    def ready(self) -> None:
        from celery.signals import worker_init

        from worker.plugins import register_for_this_process, register_provider_plugins

        register_for_this_process()
        # A Celery worker imports them before its pool starts (thread pools included).
        worker_init.connect(lambda **_: register_provider_plugins(), weak=False)
