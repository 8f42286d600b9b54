"""Provider plugins are registered on the main thread in processes that may build providers
on another one (a server running Celery tasks in-process); other commands skip the import."""

from __future__ import annotations

import threading

import pytest

from worker.plugins import may_build_providers_off_main_thread, register_provider_plugins


@pytest.mark.parametrize(
    ("eager", "argv", "expected"),
    [
        (True, ["manage.py", "runserver", "8000", "--noreload"], True),
        (True, ["/srv/app/manage.py", "runserver", "--noreload"], True),
        (True, ["/venv/bin/gunicorn", "config.wsgi"], True),
        (True, ["uvicorn", "config.asgi:application"], True),
        (True, ["manage.py", "create_api_key", "--tenant", "demo"], False),
        (True, ["manage.py", "migrate"], False),
        (True, ["manage.py", "test_agent", "x"], False),  # builds on its main thread
        (True, ["manage.py"], False),
        (False, ["manage.py", "runserver"], False),  # tasks go to a Celery worker
        (False, ["/venv/bin/gunicorn", "config.wsgi"], False),
    ],
)
def test_which_processes_register_at_start_up(eager, argv, expected):
    assert may_build_providers_off_main_thread(tasks_in_process=eager, argv=argv) is expected


def test_runserver_registers_in_the_reloader_child_only():
    argv = ["manage.py", "runserver", "8000"]
    assert may_build_providers_off_main_thread(tasks_in_process=True, argv=argv) is False
    assert (
        may_build_providers_off_main_thread(tasks_in_process=True, argv=argv, reloader_child=True)
        is True
    )


def test_registering_is_only_possible_on_the_main_thread():
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(register_provider_plugins()))
    thread.start()
    thread.join()
    assert results == [False]
    assert register_provider_plugins() is True
    from livekit.agents import Plugin

    packages = {plugin.package for plugin in Plugin.registered_plugins}
    assert {"livekit.plugins.openai", "livekit.plugins.deepgram"} <= packages
