"""Register the LiveKit provider plugins on the main thread, before any request needs them.

``livekit.plugins.*`` register themselves when first imported and refuse to do so off the main
thread (``RuntimeError: Plugins must be registered on the main thread``). ``worker.factory``
imports them lazily, which is fine in the agent worker, the CLI and a prefork Celery worker
(all on a main thread), but not when a task runs eagerly inside a web request's thread (the
quick start has no broker): then the first test run of an agent would fail. So the processes
that may build providers on another thread import the plugins once at start-up.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# Management commands that serve requests on threads; every other command builds providers,
# if at all, on its main thread (``test_agent``, ``talk``) and should not pay for the import.
SERVING_COMMANDS = frozenset({"runserver"})


def register_provider_plugins() -> bool:
    """Import every provider plugin now (idempotent). Only possible on the main thread:
    returns False, importing nothing, on any other thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    started = time.perf_counter()
    # What ``worker.factory`` may build (LLM, STT, TTS, VAD).
    from livekit.plugins import deepgram, openai, silero  # noqa: F401

    logger.debug("provider plugins registered in %.2f s", time.perf_counter() - started)
    return True


def may_build_providers_off_main_thread(
    *, tasks_in_process: bool, argv: list[str], reloader_child: bool = False
) -> bool:
    """Whether this process may build providers on a thread other than the main one: a server
    (WSGI/ASGI, ``runserver``) whose Celery tasks run in-process, eagerly, on request threads.

    ``runserver``'s autoreloader parent only watches files; its child (``reloader_child``)
    serves."""
    if not tasks_in_process:
        return False
    program = Path(argv[0]).name if argv else ""
    if program in {"manage.py", "django-admin"}:
        if len(argv) < 2 or argv[1] not in SERVING_COMMANDS:
            return False
        return reloader_child or "--noreload" in argv
    return True


def register_for_this_process() -> None:
    """Called from ``WorkerConfig.ready()``."""
    from django.conf import settings
    from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

    if may_build_providers_off_main_thread(
        tasks_in_process=settings.CELERY_TASK_ALWAYS_EAGER,
        argv=sys.argv,
        reloader_child=os.environ.get(DJANGO_AUTORELOAD_ENV) == "true",
    ):
        register_provider_plugins()
