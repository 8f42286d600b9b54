"""Handoffs in the worker: a ``transfer_to_agent`` tool hands the conversation to another agent.

The target runs at the version pinned when the session started (``Session.handoff_versions``,
see ``agents_config.handoffs``) with its own prompt, schema, voice (TTS), LLM and tools; the
conversation so far (user and spoken agent messages, tool calls) carries over, and the
target answers the user's last message at once. livekit-agents does the switch: the tool
returns the new ``Agent`` and the session's ``update_agent`` drains the old one.

Turns go on being numbered and stored as one conversation (``TurnTracker.continue_from``),
each with the agent that spoke it; each handoff is recorded on the session
(``Session.handoffs``) and published to the room as an ``agent_handoff`` message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livekit.agents import llm
from livekit.agents.llm.tool_context import ToolError, function_tool
from livekit.agents.voice.events import RunContext

from agents_config.contracts import (
    AgentDocument,
    ContractError,
    TransferToAgentTool,
    parse_document,
)
from worker.agent import EXAMPLE_EXTRA_KEY, AgentBlueprint
from worker.turns import STRUCTURED_EXTRA_KEY

if TYPE_CHECKING:
    from worker.agent import DynamicAgent
    from worker.factory import AgentFactory, ProviderKeys
    from worker.publisher import TurnPublisher
    from worker.turns import TurnStore

logger = logging.getLogger(__name__)

HANDOFF_MESSAGE_TYPE = "agent_handoff"
HANDOFF_NOTE = (
    "The conversation above was handed over to you by another agent ({from_agent}). "
    "Continue it as your instructions say; answer the user's last message."
)


@dataclass(frozen=True)
class HandoffTarget:
    """An agent a session may hand off to, at its pinned version."""

    agent_id: str
    version: str
    document: AgentDocument


class HandoffDirectory:
    """The agents a session may reach by handoff, at the versions pinned for it."""

    def __init__(self, targets: dict[str, HandoffTarget] | None = None) -> None:
        self.targets = dict(targets or {})

    def get(self, agent_id: str) -> HandoffTarget | None:
        return self.targets.get(agent_id)

    @classmethod
    def from_documents(
        cls, documents: dict[str, tuple[str, dict[str, Any]]], *, entry: HandoffTarget | None
    ) -> HandoffDirectory:
        """From ``{agent_id: (version, raw document)}``; the session's own agent (``entry``,
        overrides applied) is a target too, so a handoff back returns to the same version.
        A document the contracts no longer accept is left out (logged)."""
        targets: dict[str, HandoffTarget] = {}
        for agent_id, (version, raw) in documents.items():
            try:
                targets[agent_id] = HandoffTarget(agent_id, version, parse_document(raw))
            except ContractError as exc:
                logger.warning(
                    "handoff target %s@%s is invalid, left out: %s", agent_id, version, exc
                )
        if entry is not None:
            targets[entry.agent_id] = entry
        return cls(targets)

    @classmethod
    def for_text_mode(
        cls, *, tenant_id: int, agent_id: str, version: str, document: AgentDocument
    ) -> HandoffDirectory:
        """Pin the targets now (text mode: ``manage.py talk``, the playground). Synchronous ORM."""
        from agents_config.handoffs import handoff_pins
        from agents_config.models import AgentVersion

        pins = handoff_pins(tenant_id=tenant_id, agent_id=agent_id, document=document.to_dict())
        versions = AgentVersion.objects.filter(
            agent__tenant_id=tenant_id, pk__in=[pin["version_id"] for pin in pins.values()]
        ).select_related("agent")
        documents = {v.agent.agent_id: (v.version, v.document) for v in versions}
        return cls.from_documents(documents, entry=HandoffTarget(agent_id, version, document))


def carried_context(
    previous: llm.ChatContext, target: AgentBlueprint, from_agent: str
) -> llm.ChatContext:
    """The target's context: its own few-shot examples, then the conversation so far (spoken
    text, not the previous schema's JSON), then a note saying who handed it over."""
    ctx = target.examples_context()
    for item in previous.items:
        if isinstance(item, llm.ChatMessage):
            if item.role in ("system", "developer") or item.extra.get(EXAMPLE_EXTRA_KEY):
                continue
            if STRUCTURED_EXTRA_KEY in item.extra:
                extra = {k: v for k, v in item.extra.items() if k != STRUCTURED_EXTRA_KEY}
                item = item.model_copy(update={"extra": extra})
        elif item.type not in ("function_call", "function_call_output"):
            continue
        ctx.items.append(item)
    ctx.add_message(role="system", content=HANDOFF_NOTE.format(from_agent=from_agent))
    return ctx


@dataclass
class HandoffRuntime:
    """Builds the target agent of a handoff and records the handoff (one per session)."""

    directory: HandoffDirectory
    keys: ProviderKeys
    publisher: TurnPublisher
    store: TurnStore | None = None
    session_id: str = ""
    user_details: dict[str, Any] | None = None
    text_only: bool = False
    vad: Any = None
    eot_ready: bool | None = None
    on_handoff: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    """Records a handoff (the worker stores it on the session)."""
    factory_options: dict[str, Any] = field(default_factory=dict)
    """Extra ``AgentFactory`` fields for each target (e.g. the session's ``tool_env``, which
    holds the tenant secrets its tools name)."""
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    factories: list[AgentFactory] = field(default_factory=list)

    def tools_for(self, document: AgentDocument) -> list[llm.Tool]:
        """One function tool per ``transfer_to_agent`` entry of ``document``."""
        return [
            transfer_tool(tool, self)
            for tool in document.tools_config.tools
            if isinstance(tool, TransferToAgentTool)
        ]

    def build_agent(self, target: HandoffTarget, previous: DynamicAgent) -> DynamicAgent:
        from worker.factory import AgentFactory

        factory = AgentFactory(
            document=target.document,
            keys=self.keys,
            text_only=self.text_only,
            vad=self.vad,
            eot_ready=self.eot_ready,
            **self.factory_options,
        )
        blueprint = AgentBlueprint.for_session(
            target.document,
            version=target.version,
            user_details=self.user_details,
            session_id=self.session_id,
        )
        agent = factory.build_agent(
            blueprint=blueprint,
            publisher=self.publisher,
            store=self.store,
            handoffs=self,
            chat_ctx=carried_context(
                previous.chat_ctx, blueprint, previous.blueprint.document.agent_id
            ),
        )
        self.factories.append(factory)
        agent.turns.continue_from(previous.turns)
        agent.reply_on_enter = True
        return agent

    async def transfer(
        self, *, tool: TransferToAgentTool, context: RunContext, arguments: dict[str, Any]
    ) -> DynamicAgent:
        from worker.agent import DynamicAgent
        from worker.factory import ProviderConfigError

        previous = context.session.current_agent
        if not isinstance(previous, DynamicAgent):
            raise ToolError("The conversation cannot be transferred from here.")
        target = self.directory.get(tool.agent_id)
        if target is None:
            raise ToolError(f"Agent {tool.agent_id!r} is not available for this conversation.")
        if target.agent_id == previous.blueprint.document.agent_id:
            raise ToolError("The conversation is already with that agent.")
        try:
            agent = self.build_agent(target, previous)
        except ProviderConfigError as exc:
            logger.warning("handoff to %s failed: %s", target.agent_id, exc)
            raise ToolError(f"The transfer to {target.agent_id!r} failed.") from None
        record = {
            "type": HANDOFF_MESSAGE_TYPE,
            "session_id": self.session_id,
            "from_agent": previous.blueprint.document.agent_id,
            "from_version": previous.blueprint.version,
            "to_agent": target.agent_id,
            "to_version": target.version,
            "tool": tool.name,
            "after_turn": len(previous.turns.records),
        }
        self.handoffs.append(record)
        logger.info(
            "handoff %s@%s -> %s@%s",
            record["from_agent"], record["from_version"], target.agent_id, target.version,
        )  # fmt: skip
        if tool.message:
            previous.say_line(tool.message)
        try:
            await self.publisher.publish(record)
            if self.on_handoff is not None:
                await self.on_handoff(record)
        except Exception:  # recording must not stop the conversation
            logger.exception("recording the handoff to %s failed", target.agent_id)
        return agent

    async def aclose(self) -> None:
        factories, self.factories = self.factories, []
        for factory in factories:
            await factory.aclose()


def transfer_tool(tool: TransferToAgentTool, runtime: HandoffRuntime) -> llm.Tool:
    """The function tool of one ``transfer_to_agent`` entry (its parameters only inform the
    model: the handoff itself takes none)."""

    async def transfer(raw_arguments: dict[str, Any], context: RunContext) -> Any:
        return await runtime.transfer(tool=tool, context=context, arguments=raw_arguments)

    return function_tool(
        transfer,
        raw_schema={
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.compile_parameters().json_schema,
        },
    )
