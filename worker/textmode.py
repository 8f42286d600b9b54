"""One text-mode conversation with an agent: the worker's factory and agent class on a
text-only ``AgentSession`` (livekit-agents text mode: no STT, VAD, audio or room).

Used by ``manage.py talk``, the agent test suites (``agents_config.suite_runner``) and the
playground's text chat (``worker.chat``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from livekit.agents import AgentSession, llm

from agents_config.contracts import AgentDocument
from worker.agent import AgentBlueprint, DynamicAgent
from worker.factory import AgentFactory, DrainingAgentSession, ProviderKeys
from worker.handoff import HandoffDirectory, HandoffRuntime
from worker.publisher import MemoryTurnPublisher
from worker.turns import TurnRecord, TurnStore
from worker.usage import UsageMeter


class TextConversation:
    """``async with TextConversation(...) as chat: record = await chat.say("Hello")``.

    Building raises ``ProviderConfigError`` like the worker does; ``say`` returns the
    finished turn's record (published to the in-memory publisher; stored only with a
    ``store``). ``meter`` adds up the providers' usage (``worker.usage``).
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
        handoffs: HandoffDirectory | None = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        self.history = history  # an earlier ``chat_history()``: the conversation continues
        self.publisher = MemoryTurnPublisher(on_message=on_message)
        self.factory = AgentFactory(
            document=document, keys=keys, text_only=True, secrets=dict(secrets or {})
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
            factory_options={"secrets": dict(secrets or {})},
        )
        self.agent: DynamicAgent = self.factory.build_agent(
            blueprint=blueprint, publisher=self.publisher, store=store, handoffs=self.handoffs
        )
        self.session: AgentSession = self.factory.build_session()
        self.meter = UsageMeter.for_document(document).attach(self.session)
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
