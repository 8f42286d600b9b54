"""What a job would otherwise import on its event loop, loaded once per process image.

A session's start is on the user's clock: importing the provider plugins (the OpenAI one alone
defines ~1,200 pydantic classes), ``cryptography`` and our agent modules inside the job blocks
its event loop for seconds. So:

- :data:`FORKSERVER_MODULES` (no Django in them) are imported once in the worker's forkserver
  (``AgentServer(preload_modules=...)``) and every job process inherits them copy-on-write;
- :func:`warm_process` runs in ``prewarm`` (each job process, before any job): it imports the
  same list (a no-op under the forkserver; the real work under ``spawn`` or the thread
  executor), the Django-dependent modules, builds the process's TLS context, compiles the
  demo schema once so pydantic's model-building paths are warm; prewarm then freezes the heap
  (``tenants.platform.heap.freeze_heap``), moving all of it out of the garbage collector's
  way. Compiled schemas are then cached per process (``agents_config.schema.default_registry``)
  across its jobs.
"""

from __future__ import annotations

import time

FORKSERVER_MODULES: tuple[str, ...] = (
    "livekit.plugins.openai",
    "livekit.plugins.deepgram",
    "livekit.plugins.silero",
    # The OpenAI client loads its resources lazily, on first use inside a job.
    "openai.resources.chat",
    "openai.resources.audio",
    "openai.resources.beta",
    "openai.resources.realtime",
    "openai.types.realtime",
    "openai.pagination",
    "openai.resources.models",
    "cryptography.fernet",
    "anyio.abc",
    "anyio.streams.stapled",
    "anyio._backends._asyncio",
    "livekit.agents.voice.room_io",
    "agents_config.contracts",
    "worker.agent",
    "worker.factory",
    "worker.publisher",
    "worker.tracing",
    "worker.turns",
    "worker.lifecycle",
)
"""Imported in the forkserver: importable before ``django.setup()``."""

DJANGO_MODULES: tuple[str, ...] = (
    "tenants.platform.logging",
    "worker.store",
    "sessions_app.services",
    "agents_config.config_broadcast",
)
"""Imported in ``prewarm``, after ``django.setup()``."""


def _import_job_modules() -> None:
    """The same modules as :data:`FORKSERVER_MODULES` and :data:`DJANGO_MODULES`, imported
    by name (a test checks the lists and these imports agree)."""
    import anyio._backends._asyncio
    import anyio.abc
    import anyio.streams.stapled  # noqa: F401
    import cryptography.fernet  # noqa: F401
    import livekit.agents.voice.room_io
    import livekit.plugins.deepgram
    import livekit.plugins.openai
    import livekit.plugins.silero  # noqa: F401
    import openai.pagination
    import openai.resources.audio
    import openai.resources.beta
    import openai.resources.chat
    import openai.resources.models
    import openai.resources.realtime
    import openai.types.realtime  # noqa: F401

    import agents_config.config_broadcast
    import agents_config.contracts  # noqa: F401
    import sessions_app.services  # noqa: F401
    import tenants.platform.logging  # noqa: F401
    import worker.agent
    import worker.factory
    import worker.lifecycle
    import worker.publisher
    import worker.store
    import worker.tracing
    import worker.turns  # noqa: F401


def warm_process() -> float:
    """Everything a job needs, before the job; returns the seconds it took (Django is set up)."""
    started = time.perf_counter()
    _import_job_modules()
    from agents_config.schema import DEMO_FIELDS, SchemaRegistry

    SchemaRegistry(max_size=1).get_or_compile("warm-up", DEMO_FIELDS)
    from worker.factory import tls_context

    tls_context()
    return time.perf_counter() - started
