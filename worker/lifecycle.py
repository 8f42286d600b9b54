"""A session's life in the worker: the greeting, the time limit, the silence timeout, the end.

- ``prompt_config.first_message``: a fixed text (``session.say``) or ``{"mode": "generate"}``
  (a normal structured turn the LLM writes from its instructions), recorded as turn 0.
- ``pipeline_config.max_session_minutes``: the worker speaks ``closing_line`` and closes the
  session (the beat sweep stays as the backstop for a worker that died).
- ``pipeline_config.silence_timeout_seconds``: livekit-agents marks the user ``away`` after that
  much silence (``user_away_timeout``); the agent asks ``silence_prompt`` once, and if the user
  stays silent as long again, the session ends.
- The agent's ``end_call`` tool (``tools_config``): its goodbye line, then the session ends
  with reason ``agent_ended``.
- Whatever closes the ``AgentSession`` (the participant left, one of the above, an error, the
  job shutting down) calls ``on_end`` once with the reason, so the job ends and the session row
  is marked ended with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import AgentSession
from livekit.agents.voice.events import CloseEvent, UserStateChangedEvent

from worker.agent import DynamicAgent
from worker.tools import AGENT_ENDED_REASON

logger = logging.getLogger(__name__)

GENERATED_GREETING_INSTRUCTIONS = (
    "The conversation is starting: greet the user and open it as your instructions say."
)
MAX_DURATION_REASON = "max duration reached"
SILENCE_REASON = "silence timeout"


class SessionLifecycle:
    """Attach to a session before ``session.start``; call :meth:`start` after it."""

    def __init__(
        self,
        *,
        session: AgentSession,
        agent: DynamicAgent,
        on_end: Callable[[str], Awaitable[None] | None] | None = None,
        time_limit_seconds: float | None = None,
    ) -> None:
        self._session = session
        self._agent = agent
        self._on_end = on_end
        document = agent.blueprint.document
        self._pipeline = document.pipeline_config
        self._first_message = document.prompt_config.first_message
        self._time_limit_seconds = time_limit_seconds or self._pipeline.max_session_minutes * 60
        self._reason: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._silence_task: asyncio.Task[Any] | None = None
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        session.on("close", self._on_close)
        session.on("user_state_changed", self._on_user_state)
        agent.end_call_handler = self._agent_ended

    def start(self) -> None:
        """Speak the greeting and start the session's clock."""
        self._greet()
        self._spawn(self._time_limit(self._time_limit_seconds))

    def _greet(self) -> None:
        first = self._first_message
        if first is None:
            return
        turns = self._agent.turns
        if isinstance(first, str):
            if first.strip():
                turns.begin_greeting(first, spoken_field=self._agent.blueprint.schema.spoken_field)
                self._session.say(first)
            return
        turns.greeting_next = True
        self._session.generate_reply(instructions=GENERATED_GREETING_INSTRUCTIONS)

    async def end(self, reason: str, *, line: str | None = None) -> None:
        """Say ``line`` (if any), then close the session with ``reason``."""
        if self._reason is not None:
            return
        self._reason = reason
        if line:
            try:
                await self._session.say(line, allow_interruptions=False)
            except Exception:  # ending matters more than the goodbye
                logger.exception("could not speak the closing line")
        self._session.shutdown(drain=True)

    async def _agent_ended(self, goodbye: str) -> None:
        """The agent's ``end_call`` tool: the goodbye, then the end (``agent_ended``)."""
        await self.end(AGENT_ENDED_REASON, line=goodbye or None)

    async def _time_limit(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        logger.info("session reached its time limit (%s s)", seconds)
        await self.end(MAX_DURATION_REASON, line=self._pipeline.closing_line)

    def _on_user_state(self, event: UserStateChangedEvent) -> None:
        if event.new_state == "away":
            if self._silence_task is None and self._reason is None:
                self._silence_task = self._spawn(self._ask_then_end())
        elif event.new_state == "speaking" and self._silence_task is not None:
            self._silence_task.cancel()
            self._silence_task = None

    async def _ask_then_end(self) -> None:
        await self._session.say(self._pipeline.silence_prompt)
        await asyncio.sleep(self._pipeline.silence_timeout_seconds or 0)
        await self.end(SILENCE_REASON)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_close(self, event: CloseEvent) -> None:
        reason = self._reason or event.reason.value.replace("_", " ")
        if event.error is not None:
            reason = f"{reason}: {event.error}"
        self.end_reason = reason
        self._session.off("close", self._on_close)
        self._session.off("user_state_changed", self._on_user_state)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        self.ended.set()
        if self._on_end is not None:
            result = self._on_end(reason)
            if asyncio.iscoroutine(result):
                self._spawn_detached(result)

    @staticmethod
    def _spawn_detached(coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)


_DETACHED: set[asyncio.Task[Any]] = set()
