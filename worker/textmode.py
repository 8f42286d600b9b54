"""One text-mode conversation with an agent: the worker's factory and agent class on a
text-only ``AgentSession`` (livekit-agents text mode: no STT, VAD, audio or room).

Used by ``manage.py talk``, the agent test suites (``agents_config.test_suites.runner``) and the
playground's text chat (``worker.chat``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.agents.voice import io

from agents_config.contracts import AgentDocument
from agents_config.providers import ProviderKeys
from worker.agent import AgentBlueprint, DynamicAgent
from worker.factory import AgentFactory, DrainingAgentSession
from worker.handoff import HandoffDirectory, HandoffRuntime
from worker.publisher import MemoryTurnPublisher
from worker.turns import TurnRecord, TurnStore
from worker.usage import UsageMeter


class TextSink(io.TextOutput):
    """The session's transcription output in text mode: each chunk of spoken text the LLM
    node yields, handed to ``on_text`` as it arrives (livekit-agents forwards it here)."""

    def __init__(self, on_text: Callable[[str], None]) -> None:
        super().__init__(label="text-sink", next_in_chain=None)
        self._on_text = on_text

    async def capture_text(self, text: str) -> None:
        if text:
            self._on_text(text)

    def flush(self) -> None:
        """A segment ended; the turn message that follows says so."""


class TextConversation:
    """``async with TextConversation(...) as chat: record = await chat.say("Hello")``.

    Building raises ``ProviderConfigError`` like the worker does; ``say`` returns the
    finished turn's record (published to the in-memory publisher; stored only with a
    ``store``). ``meter`` adds up the providers' usage (``worker.usage``). ``on_text``
    receives the spoken text chunk by chunk while a turn streams. ``tool_mocks`` (a test
    suite's, by tool name) puts the tools in test mode: nothing external is called, MCP
    servers are not connected (``worker.tools.ToolEnvironment.mocks``).
    """

    def __init__(
        self,
        *,
        document: AgentDocument,
        version: str,
        keys: ProviderKeys,
        user_details: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        history: dict[str, Any] | None = None,
        store: TurnStore | None = None,
        on_text: Callable[[str], None] | None = None,
        tool_env: Any = None,
        handoffs: HandoffDirectory | None = None,
        tool_mocks: dict[str, Any] | None = None,
    ) -> None:
        if tool_mocks is not None:  # a suite run: mocked tools only, no secrets needed
            from worker.tools import ToolEnvironment

            tool_env = ToolEnvironment(session_id="test-suite", mocks=dict(tool_mocks))
        self.history = history  # an earlier ``chat_history()``: the conversation continues
        self.publisher = MemoryTurnPublisher(on_message=on_message)
        self.factory = AgentFactory(
            document=document,
            keys=keys,
            text_only=True,
            tool_env=tool_env,
        )
        blueprint = AgentBlueprint.for_session(
            document, version=version, user_details=user_details, overrides=overrides
        )
        # ``transfer_to_agent`` tools reach the agents in ``handoffs`` (none: no target).
        self.handoffs = HandoffRuntime(
            directory=handoffs or HandoffDirectory(),
            keys=keys,
            publisher=self.publisher,
            store=store,
            user_details=user_details,
            text_only=True,
            factory_options={"tool_env": self.factory.tool_env},
        )
        self.agent: DynamicAgent = self.factory.build_agent(
            blueprint=blueprint, publisher=self.publisher, store=store, handoffs=self.handoffs
        )
        self.session: AgentSession = self.factory.build_session()
        self.meter = UsageMeter.for_document(document).attach(self.session)
        if on_text is not None:  # the spoken text as it streams (the playground's text chat)
            self.session.output.transcription = TextSink(on_text)
        if store is not None and getattr(store, "meter", False) is None:
            store.meter = self.meter  # type: ignore[attr-defined]

    async def __aenter__(self) -> TextConversation:
        if self.history:
            await self.agent.update_chat_ctx(llm.ChatContext.from_dict(self.history))
        await self.session.start(self.agent)
        return self

    @property
    def current_agent(self) -> DynamicAgent:
        """The agent talking now (another one after a handoff)."""
        try:
            current = self.session.current_agent
        except RuntimeError:  # not started
            return self.agent
        return current if isinstance(current, DynamicAgent) else self.agent

    def chat_history(self) -> dict[str, Any]:
        """The conversation so far (what the LLM saw, hidden fields included) as JSON data,
        for a later ``TextConversation(history=...)`` to continue it."""
        return self.current_agent.chat_ctx.to_dict(exclude_image=True, exclude_timestamp=True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None and isinstance(self.session, DrainingAgentSession):
                await self.session.aclose(drain=False)  # stopped: nothing left to wait for
            else:
                await self.session.aclose()
        finally:
            await self.agent.turns.flush()
            await self.factory.aclose()
            await self.handoffs.aclose()

    async def say(self, text: str) -> TurnRecord | None:
        """Send one user message and wait for the agent's reply; None if no turn finished."""
        before = len(self.agent.turns.records)
        await self.session.run(user_input=text)
        records = self.agent.turns.records
        return records[-1] if len(records) > before else None

    async def flush(self) -> None:
        """Wait until every finished turn has been published."""
        await self.agent.turns.flush()
