"""Per-turn bookkeeping of the dynamic agent: timings, the validated result, finalisation.

A turn starts when the agent's ``llm_node`` runs and is finished only when its reply is
added to the conversation: played out, or cut by a barge-in (then with the text the user
heard). A reply that never reached the user (a discarded preemptive generation, a reply
interrupted before any of it was played, one still pending when the session closed) is
dropped: no record, no published message, no stored row. Finishing a turn builds a
:class:`TurnRecord`, applies the custom nodes, publishes the frontend message (hidden fields
stripped) and stores it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agents_config.nodes import NodeStage, apply_nodes

if TYPE_CHECKING:
    from agents_config.schema import CompiledSchema
    from worker.publisher import TurnPublisher

logger = logging.getLogger(__name__)

STRUCTURED_EXTRA_KEY = "structured_turn"
"""``ChatMessage.extra`` key holding the turn's full JSON, which the LLM sees in later turns."""


def _seconds_to_ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


class TurnStore(Protocol):
    async def save(self, record: TurnRecord) -> None: ...


@dataclass
class TurnState:
    """What one running turn has gathered so far (mutated by the agent's nodes)."""

    user_text: str
    user_metrics: dict[str, Any] = field(default_factory=dict)
    """livekit-agents' metrics of the user message (end-of-turn and transcription delays)."""
    started_at: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    first_spoken_at: float | None = None
    spoken_flushed_at: float | None = None
    """When the spoken string closed and the speech segment was ended (TTS released)."""
    tts_instructions: str | None = None
    """The voice instructions this turn's audio is spoken with."""
    next_tts_instructions: str | None = None
    """With ``next_turn`` timing: the instructions this turn wrote for the next one."""
    instructions_settled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once this turn's instructions are known (or known to be absent): the TTS waits."""
    data: dict[str, Any] = field(default_factory=dict)
    spoken_text: str = ""
    raw_text: str = ""
    structured: bool = True
    errors: list[str] = field(default_factory=list)
    llm_done: bool = False
    finished: bool = False
    greeting: bool = False
    """The agent's first message (``prompt_config.first_message``): recorded as turn 0."""
    overhead_s: float = 0.0
    """Time spent in this module's and the agent's own code during the turn (bench)."""
    tool_calls: list[Any] = field(default_factory=list)
    """``worker.tools.ToolCallRecord`` of each tool call the turn made."""
    awaiting_tools: bool = False
    """The generation only called tools: the turn is spoken by the next generation."""
    generated: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the current generation's result is complete (tools may run before that)."""

    def mark_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def mark_spoken(self) -> None:
        if self.first_spoken_at is None:
            self.first_spoken_at = time.perf_counter()
            self.instructions_settled.set()  # speech started: no instructions will precede it

    def set_tts_instructions(self, value: str | None) -> None:
        self.tts_instructions = (value or "").strip() or None
        self.instructions_settled.set()

    def set_next_tts_instructions(self, value: str) -> None:
        self.next_tts_instructions = value.strip() or None

    def _ms(self, at: float | None) -> float | None:
        return None if at is None else round((at - self.started_at) * 1000, 2)

    @property
    def llm_ttft_ms(self) -> float | None:
        return self._ms(self.first_token_at)

    @property
    def first_spoken_ms(self) -> float | None:
        return self._ms(self.first_spoken_at)

    @property
    def spoken_complete_ms(self) -> float | None:
        return self._ms(self.spoken_flushed_at)


@dataclass
class TurnRecord:
    """A finished turn as stored and (stripped) published."""

    index: int
    version: str
    user_text: str
    spoken_text: str
    data: dict[str, Any]
    public_data: dict[str, Any]
    errors: list[str]
    structured: bool
    interrupted: bool
    llm_ttft_ms: float | None
    first_spoken_ms: float | None
    tts_ttfb_ms: float | None
    e2e_latency_ms: float | None = None
    end_of_turn_delay_ms: float | None = None
    transcription_delay_ms: float | None = None
    spoken_complete_ms: float | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Each tool call: name, arguments, status, duration_ms, truncated result."""
    agent_id: str = ""
    """The agent that spoke the turn (after a handoff, not the session's first agent)."""

    def message(self, *, session_id: str = "", agent_id: str = "") -> dict[str, Any]:
        """The frontend message on ``llm-structured-response`` (no hidden fields)."""
        return {
            "type": "structured_turn",
            "session_id": session_id,
            "agent_id": agent_id,
            "version": self.version,
            "turn": self.index,
            "data": self.public_data,
            "spoken_text": self.spoken_text,
            "valid": not self.errors,
            "errors": self.errors,
            "interrupted": self.interrupted,
            "tool_calls": self.tool_calls,
        }


class TurnTracker:
    """Owns the running turn and finishes turns exactly once (publish, then store)."""

    def __init__(
        self,
        *,
        schema: CompiledSchema,
        version: str,
        custom_nodes: list[str],
        publisher: TurnPublisher,
        store: TurnStore | None = None,
        session_id: str = "",
        agent_id: str = "",
        on_record: Callable[[TurnRecord], Awaitable[None] | None] | None = None,
    ) -> None:
        self._schema = schema
        self._version = version
        self._custom_nodes = list(custom_nodes)
        self._publisher = publisher
        self._store = store
        self._session_id = session_id
        self._agent_id = agent_id
        self._on_record = on_record
        self._counter = [0]
        """The conversation's turn count (a list: trackers of a handoff share it)."""
        self._successors: list[TurnTracker] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.current: TurnState | None = None
        """The latest turn begun."""
        self.open: list[TurnState] = []
        """Turns begun and not yet spoken, oldest first (a preemptive reply may be among them)."""
        self.greeting_next = False
        """The next turn begun is the generated greeting."""
        self.dropped = 0
        """Turns whose reply never reached the user (not recorded)."""
        self.records: list[TurnRecord] = []
        self.overheads: list[float] = []
        """Seconds of our own code per finished turn (see ``bench/turn_overhead.py``)."""

    def reconfigure(self, *, schema: CompiledSchema, version: str, custom_nodes: list[str]) -> None:
        """Use another agent version for the turns that start from now on."""
        self._schema = schema
        self._version = version
        self._custom_nodes = list(custom_nodes)

    @property
    def version(self) -> str:
        """The agent version the next turns run on (changes on an applied reload)."""
        return self._version

    def begin(self, *, user_text: str, user_metrics: dict[str, Any] | None = None) -> TurnState:
        """Start a turn. It is recorded only if its reply is spoken (see :meth:`finish`)."""
        self.current = TurnState(
            user_text=user_text, user_metrics=dict(user_metrics or {}), greeting=self.greeting_next
        )
        self.greeting_next = False
        self.open.append(self.current)
        return self.current

    def resume(self, turn: TurnState) -> None:
        """Continue ``turn`` in a new generation (after its tool results); what the
        tool-calling generation's empty content failed (no spoken text) is not an error."""
        turn.errors.clear()
        turn.generated.clear()
        turn.llm_done = False
        turn.awaiting_tools = False
        self.current = turn
        if turn not in self.open:
            self.open.append(turn)

    def begin_greeting(self, text: str, *, spoken_field: str) -> TurnState:
        """A fixed greeting (``session.say``): a turn with no LLM call, recorded as turn 0."""
        turn = self.begin(user_text="")
        turn.greeting = True
        turn.spoken_text = text
        turn.data = {spoken_field: text}
        turn.llm_done = True
        return turn

    @staticmethod
    def line(text: str, *, spoken_field: str) -> TurnState:
        """A fixed line said outside any generation (a handoff's message): not an open turn,
        so no reply is matched to it; the caller finishes it when it has been played."""
        turn = TurnState(user_text="", spoken_text=text, data={spoken_field: text})
        turn.llm_done = True
        return turn

    def continue_from(self, previous: TurnTracker) -> None:
        """Go on with ``previous``'s conversation (a handoff): one turn count, one list of
        records, and flushing ``previous`` waits for this tracker's deliveries too."""
        self._counter = previous._counter
        self.records = previous.records
        self.overheads = previous.overheads
        previous._successors.append(self)

    def spoken_turn(self, heard: str) -> TurnState | None:
        """The open turn whose reply is the one just added to the conversation as ``heard``.

        The oldest finished generation whose spoken text starts with what was heard (a
        preemptive reply may run next to the one being played); else the latest finished one.
        """
        ready = [
            turn
            for turn in self.open
            if turn.llm_done and not turn.finished and not turn.awaiting_tools
        ]
        heard_words = " ".join(heard.split())
        for turn in ready:
            if " ".join(turn.spoken_text.split()).startswith(heard_words):
                return turn
        return ready[-1] if ready else None

    def _drop_unspoken(self, before: TurnState | None = None) -> None:
        """Forget open turns begun before ``before`` (all if None): their replies were never
        heard (superseded or discarded), so they leave no trace."""
        keep: list[TurnState] = []
        seen = before is None
        for turn in self.open:
            if turn is before:
                seen = True
            if turn.finished:
                continue
            if not seen or before is None:
                turn.finished = True
                self.dropped += 1
                logger.debug("dropping a turn whose reply was never heard")
                continue
            keep.append(turn)
        self.open = keep

    def finish(
        self,
        turn: TurnState,
        *,
        interrupted: bool = False,
        tts_ttfb_s: float | None = None,
        e2e_latency_s: float | None = None,
    ) -> TurnRecord | None:
        """Build the record and hand it to the publisher and store (in a background task)."""
        if turn.finished:
            return None
        started = time.perf_counter()
        self._drop_unspoken(before=turn)
        turn.finished = True
        if turn in self.open:
            self.open.remove(turn)
        if not turn.greeting:
            self._counter[0] += 1
        spoken = apply_nodes(self._custom_nodes, NodeStage.SPOKEN_TEXT, turn.spoken_text)
        record = TurnRecord(
            index=0 if turn.greeting else self._counter[0],
            version=self._version,
            agent_id=self._agent_id,
            user_text=apply_nodes(self._custom_nodes, NodeStage.USER_TRANSCRIPT, turn.user_text),
            spoken_text=spoken,
            data=turn.data,
            public_data=self._schema.strip_hidden(turn.data),
            errors=list(turn.errors),
            structured=turn.structured,
            interrupted=interrupted,
            llm_ttft_ms=turn.llm_ttft_ms,
            first_spoken_ms=turn.first_spoken_ms,
            tts_ttfb_ms=_seconds_to_ms(tts_ttfb_s),
            e2e_latency_ms=_seconds_to_ms(e2e_latency_s),
            end_of_turn_delay_ms=_seconds_to_ms(turn.user_metrics.get("end_of_turn_delay")),
            transcription_delay_ms=_seconds_to_ms(turn.user_metrics.get("transcription_delay")),
            spoken_complete_ms=turn.spoken_complete_ms,
            tool_calls=[call.as_dict() for call in turn.tool_calls],
        )
        self.records.append(record)
        task = asyncio.get_running_loop().create_task(self._deliver(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        turn.overhead_s += time.perf_counter() - started
        self.overheads.append(turn.overhead_s)
        return record

    async def _deliver(self, record: TurnRecord) -> None:
        try:
            await self._publisher.publish(
                record.message(session_id=self._session_id, agent_id=self._agent_id)
            )
        except Exception:
            logger.exception("publishing turn %s failed", record.index)
        if self._store is not None:
            try:
                await self._store.save(record)
            except Exception:  # storage trouble is logged; the conversation goes on
                logger.exception("storing turn %s failed", record.index)
        if self._on_record is not None:
            result = self._on_record(record)
            if asyncio.iscoroutine(result):
                await result

    async def flush(self) -> None:
        """Wait until every finished turn is published and stored (a handoff's too)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for successor in list(self._successors):
            await successor.flush()

    async def aclose(self) -> None:
        """Drop turns whose reply was never heard and wait for delivery of the others."""
        self._drop_unspoken()
        for successor in list(self._successors):
            successor._drop_unspoken()
        await self.flush()
