"""The dynamic agent: a ``livekit.agents.Agent`` configured entirely from an agent version.

- ``llm_node`` asks for JSON matching the schema (speech-first property order) when the
  provider supports structured output, and feeds the stream to the schema engine's extractor:
  only the spoken field's text leaves the node, as it streams. So the TTS, the room
  transcription and the conversation history the user sees all carry spoken text only.
- The moment the spoken string closes, ``llm_node`` yields a ``FlushSentinel``: livekit-agents
  ends the speech segment, the TTS's sentence tokenizer releases the last sentence and audio
  starts while the hidden fields are still streaming. Until the string closes the word being
  written is held back, so a cut-off reply never speaks half a word.
- The TTS-instructions field (``tts_config.instructions_timing``): with ``this_turn`` it comes
  before the spoken field and ``tts_node`` sets it on the TTS before opening the stream; with
  ``next_turn`` it comes right after the spoken field and applies from the next turn.
- Each finished turn's full structured JSON is attached to its assistant message; the next
  ``llm_node`` shows the LLM that JSON instead of the spoken text, so stage, score and flags
  carry over between turns.
- Tool calls (``tools_config``, built by ``worker.tools``) pass through to the framework as
  ``ChatChunk`` tool calls; the spoken field is still extracted from the content. A
  generation that only calls tools speaks nothing (no fallback line): the turn waits for the
  results and the next generation (which sees them) continues the same turn. Every call is
  recorded on the turn (name, arguments, status, duration, truncated result).
- Provider errors, invalid JSON and validation failures never end the session: whatever was
  spoken stays spoken, the configured fallback line fills silence, and the turn records the
  errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import Agent, ModelSettings, llm, stt, tts, vad
from livekit.agents.telemetry import tracer
from livekit.agents.types import NOT_GIVEN, FlushSentinel, NotGivenOr
from livekit.agents.voice.agent_session import AgentSession
from livekit.agents.voice.events import ConversationItemAddedEvent

from agents_config.contracts import AgentDocument
from agents_config.schema import CompiledSchema, StreamingExtractor
from agents_config.templating import render_template, session_variables
from agents_config.validators import OUTPUT_VALIDATORS
from tenants.metrics import PROVIDER_ERRORS
from worker.publisher import TurnPublisher
from worker.tools import ToolCallRecord, ToolEnvironment, build_tools
from worker.tracing import turn_attributes
from worker.turns import STRUCTURED_EXTRA_KEY, TurnState, TurnStore, TurnTracker

EXAMPLE_EXTRA_KEY = "few_shot_example"
"""``ChatMessage.extra`` key of the few-shot examples: never dropped from the LLM's context."""

INTERRUPTED_KEY = "interrupted"
"""Added to an interrupted reply's JSON in the LLM's context (its spoken field is cut to the
heard text), so the model knows the user did not hear the rest."""

logger = logging.getLogger(__name__)

JSON_ONLY_NOTE = (
    "Answer with one JSON object only (no prose, no code fence) that matches this JSON Schema; "
    "put the text to say aloud in the {spoken!r} field:\n{schema}"
)


def resolve_variables(
    document: AgentDocument,
    *,
    user_details: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Template values: declared defaults ← session user details ← session overrides.

    Only declared variables are taken from either source, and only JSON scalars.
    """
    return session_variables(
        document.prompt_config.dynamic_vars, user_details=user_details, overrides=overrides
    )


@dataclass(frozen=True)
class AgentBlueprint:
    """Everything the agent needs from an agent version and a session."""

    document: AgentDocument
    variables: dict[str, Any]
    version: str
    session_id: str = ""

    @classmethod
    def for_session(
        cls,
        document: AgentDocument,
        *,
        version: str,
        user_details: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        session_id: str = "",
    ) -> AgentBlueprint:
        """The blueprint of a session: its template values resolved from its details."""
        variables = resolve_variables(document, user_details=user_details, overrides=overrides)
        return cls(document=document, variables=variables, version=version, session_id=session_id)

    @property
    def schema(self) -> CompiledSchema:
        return self.document.compiled_schema()

    def instructions(self) -> str:
        return render_template(self.document.prompt_config.instructions, self.variables)

    def examples_context(self) -> llm.ChatContext:
        """Few-shot examples as user/assistant pairs (structured replies as JSON)."""
        ctx = llm.ChatContext.empty()
        for example in self.document.prompt_config.examples:
            ctx.add_message(role="user", content=example.user)
            reply = example.assistant
            if isinstance(reply, dict):
                ctx.add_message(
                    role="assistant",
                    content=json.dumps(reply, ensure_ascii=False),
                    extra={
                        STRUCTURED_EXTRA_KEY: json.dumps(reply, ensure_ascii=False),
                        EXAMPLE_EXTRA_KEY: True,
                    },
                )
            else:
                ctx.add_message(role="assistant", content=reply, extra={EXAMPLE_EXTRA_KEY: True})
        for item in ctx.items:
            if isinstance(item, llm.ChatMessage):
                item.extra[EXAMPLE_EXTRA_KEY] = True
        return ctx


def _last_user_message(chat_ctx: llm.ChatContext) -> llm.ChatMessage | None:
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return item
    return None


class DynamicAgent(Agent):
    """An agent whose prompt, schema, providers and pipeline come from an agent version."""

    def __init__(
        self,
        *,
        blueprint: AgentBlueprint,
        publisher: TurnPublisher,
        store: TurnStore | None = None,
        llm: NotGivenOr[llm.LLM] = NOT_GIVEN,
        stt: NotGivenOr[stt.STT | None] = NOT_GIVEN,
        tts: NotGivenOr[tts.TTS | None] = NOT_GIVEN,
        vad: NotGivenOr[vad.VAD | None] = NOT_GIVEN,
        tools: list[Any] | None = None,
        tool_env: ToolEnvironment | None = None,
        chat_ctx: llm.ChatContext | None = None,
    ) -> None:
        document = blueprint.document
        self.tool_env = tool_env or ToolEnvironment(session_id=blueprint.session_id)
        configured = build_tools(document.tools_config, env=self.tool_env, host=self)
        super().__init__(
            instructions=blueprint.instructions(),
            chat_ctx=chat_ctx if chat_ctx is not None else blueprint.examples_context(),
            tools=[*configured, *(tools or [])],
            llm=llm,
            stt=stt,
            tts=tts,
            vad=vad,
        )
        self._configure(blueprint)
        self.turns = TurnTracker(
            schema=self._schema,
            version=blueprint.version,
            custom_nodes=document.pipeline_config.custom_nodes,
            publisher=publisher,
            store=store,
            session_id=blueprint.session_id,
            agent_id=document.agent_id,
        )
        self._listening_to: AgentSession | None = None
        self._pending: AgentBlueprint | None = None
        self._replaced_instructions: tuple[str, str] | None = None
        self._carried_instructions: str | None = None
        """``next_turn`` timing: the voice instructions the previous turn wrote."""
        self._tool_calls: dict[str, tuple[ToolCallRecord, TurnState]] = {}
        """Each tool call of the session by call id, with the turn whose generation made it."""
        self.end_call_handler: Callable[[str], Awaitable[None]] | None = None
        """Set by ``worker.lifecycle``: ends the session (reason ``agent_ended``) after the
        goodbye line."""
        self.on_tool_call: Callable[[ToolCallRecord], None] | None = None
        """Called when a tool call starts and when it ends (``manage.py talk`` prints it)."""
        self.reply_on_enter = False
        """Set on a handoff's target: it answers the user's last message when it starts."""
        self._lines: set[str] = set()
        """Fixed lines being said (``say_line``): recorded by their own callback."""

    def _configure(self, blueprint: AgentBlueprint) -> None:
        """Take everything per-turn from ``blueprint`` (at start, and on an applied reload)."""
        document = blueprint.document
        self.blueprint = blueprint
        self._schema = blueprint.schema
        self._llm_config = document.llm_config
        self._tts_config = document.tts_config
        self._fallback_line = document.pipeline_config.fallback_line
        self._validators = [
            OUTPUT_VALIDATORS[name]
            for name in document.schema_config.custom_validators
            if name in OUTPUT_VALIDATORS
        ]
        self._json_note = JSON_ONLY_NOTE.format(
            spoken=self._schema.wire_spoken_key,
            schema=json.dumps(self._schema.json_schema, ensure_ascii=False),
        )
        self._trace_fields = tuple(document.tracing_config.metadata_fields)

    # --- hot reload (reload policy "apply") -------------------------------------------------

    def schedule_blueprint(self, blueprint: AgentBlueprint) -> None:
        """Switch to another version at the next turn boundary, never mid-utterance."""
        self._pending = blueprint

    async def _apply_pending(self) -> None:
        blueprint, self._pending = self._pending, None
        if blueprint is None:
            return
        previous = self.instructions
        self._configure(blueprint)
        self.turns.reconfigure(
            schema=self._schema,
            version=blueprint.version,
            custom_nodes=blueprint.document.pipeline_config.custom_nodes,
        )
        instructions = blueprint.instructions()
        await self.update_instructions(instructions)
        # The context of the turn being started was copied before the swap.
        self._replaced_instructions = (previous, instructions)
        for engine in tts_engines(self.tts if isinstance(self.tts, tts.TTS) else None):
            update = getattr(engine, "update_options", None)
            if update is not None:
                try:
                    update(voice=self._tts_config.voice)
                except TypeError:
                    logger.debug("TTS %r cannot change voice", engine)
        logger.info("applied agent version %s at a turn boundary", blueprint.version)

    @property
    def own_code_seconds(self) -> list[float]:
        """Time spent in this agent's code per finished turn (for the overhead bench)."""
        return self.turns.overheads

    async def on_enter(self) -> None:
        session = self.session
        if self._listening_to is not session:
            session.on("conversation_item_added", self._on_conversation_item)
            self._listening_to = session
        if self.reply_on_enter:  # the target of a handoff (``worker.handoff``)
            self.reply_on_enter = False
            session.generate_reply()

    def say_line(self, text: str) -> None:
        """Speak a fixed line (a handoff's message), recorded as a turn of its own once
        played (even after this agent has exited: the handoff waits for it)."""
        turn = self.turns.line(text, spoken_field=self._schema.spoken_field)
        self._lines.add(text)

        def played(handle: Any) -> None:
            self._lines.discard(text)
            self.turns.finish(turn, interrupted=handle.interrupted)

        self.session.say(text).add_done_callback(played)

    async def on_exit(self) -> None:
        if self._listening_to is not None:
            self._listening_to.off("conversation_item_added", self._on_conversation_item)
            self._listening_to = None
        await self.turns.aclose()
        await self.tool_env.aclose()

    def _on_conversation_item(self, event: ConversationItemAddedEvent) -> None:
        """A reply reached the conversation: it was spoken (played, or cut by a barge-in).

        Only now is its turn recorded and published, with what the user actually heard:
        livekit-agents truncates an interrupted reply's text to what was played and marks
        it ``interrupted``; the structured JSON the LLM sees next says so too.
        """
        item = event.item
        if not isinstance(item, llm.ChatMessage) or item.role != "assistant":
            return
        heard = item.text_content or ""
        if heard in self._lines:
            return
        turn = self.turns.spoken_turn(heard)
        if turn is None:
            return
        if item.interrupted:
            turn.spoken_text = heard
            turn.data = {**turn.data, self._schema.spoken_field: heard}
        shown = {**turn.data, INTERRUPTED_KEY: True} if item.interrupted else turn.data
        item.extra[STRUCTURED_EXTRA_KEY] = json.dumps(shown, ensure_ascii=False, default=str)
        self.turns.finish(
            turn,
            interrupted=item.interrupted,
            tts_ttfb_s=item.metrics.get("tts_node_ttfb"),
            e2e_latency_s=item.metrics.get("e2e_latency"),
        )

    # --- tools (``worker.tools.ToolHost``) --------------------------------------------------

    def tool_call_record(self, call_id: str, name: str, arguments: Any) -> ToolCallRecord:
        """The record of a call the framework is about to run (made when it was streamed)."""
        known = self._tool_calls.get(call_id)
        if known is not None:
            known[0].arguments = arguments
            record = known[0]
        else:  # a call this agent's llm_node did not see (e.g. replayed history)
            record = ToolCallRecord(call_id=call_id, name=name, arguments=arguments)
            turn = self.turns.current
            if turn is not None:
                turn.tool_calls.append(record)
                self._tool_calls[call_id] = (record, turn)
        if self.on_tool_call is not None:
            self.on_tool_call(record)
        return record

    def tool_call_done(self, record: ToolCallRecord) -> None:
        if self.on_tool_call is not None:
            self.on_tool_call(record)

    async def end_call(self, goodbye: str, record: ToolCallRecord) -> None:
        """The ``end_call`` tool: the goodbye is the turn's speech, then the session ends."""
        known = self._tool_calls.get(record.call_id)
        turn = known[1] if known else self.turns.current
        if turn is not None and not turn.generated.is_set():
            # the framework runs a tool as soon as its call streamed; the turn's result
            # is complete a moment later
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.generated.wait(), timeout=5)
        if turn is not None and not turn.finished and turn.awaiting_tools:
            turn.awaiting_tools = False
            if goodbye:
                turn.spoken_text = goodbye
                turn.data = {**turn.data, self._schema.spoken_field: goodbye}
            else:
                record.finish("ok", "")
                self.turns.finish(turn)
        handler = self.end_call_handler
        if handler is None:  # no lifecycle (text mode): say goodbye and close the session

            async def handler(line: str) -> None:
                if line:
                    await self.session.say(line, allow_interruptions=False)
                self.session.shutdown(drain=True)

        # Not awaited: the goodbye is queued behind the speech running this tool.
        task = asyncio.ensure_future(handler(goodbye))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    def _continue_tool_turn(self, chat_ctx: llm.ChatContext) -> TurnState | None:
        """After tool results: the turn whose generation called the tools, if still open
        (else a new turn with no user text); None when this generation follows a user
        message."""
        outputs: list[str] = []
        for item in reversed(chat_ctx.items):
            if isinstance(item, llm.FunctionCallOutput):
                outputs.append(item.call_id)
            elif isinstance(item, llm.FunctionCall):
                continue
            else:
                break
        if not outputs:
            return None
        known = [self._tool_calls[c] for c in reversed(outputs) if c in self._tool_calls]
        turn = known[-1][1] if known else None
        if turn is None or turn.finished:
            turn = self.turns.begin(user_text="")
        else:
            self.turns.resume(turn)
        for record, _ in known:
            if record not in turn.tool_calls:
                turn.tool_calls.append(record)
        return turn

    # --- LLM -------------------------------------------------------------------------------

    def _llm_context(self, chat_ctx: llm.ChatContext) -> llm.ChatContext:
        """The context the LLM sees: earlier replies as their full structured JSON."""
        items: list[llm.ChatItem] = []
        replaced = self._replaced_instructions
        for item in chat_ctx.items:
            if (
                replaced is not None
                and isinstance(item, llm.ChatMessage)
                and item.role in ("system", "developer")
                and item.text_content == replaced[0]
            ):
                item = item.model_copy(update={"content": [replaced[1]]})
            if isinstance(item, llm.ChatMessage) and item.role == "assistant":
                structured = item.extra.get(STRUCTURED_EXTRA_KEY)
                if structured:
                    shown = self._wire_json(structured)
                    item = item.model_copy(update={"content": [shown]})
            items.append(item)
        ctx = llm.ChatContext(bounded_history(items, self._llm_config.max_history_turns))
        if not self._llm_config.supports_structured_output:
            ctx.add_message(role="system", content=self._json_note)
        return ctx

    def _wire_json(self, structured: str) -> str:
        """A stored reply's JSON (configured names) as the LLM wrote it: with the schema's
        wire keys, so the history agrees with the schema it is asked to follow."""
        schema = self._schema
        if not schema.spoken_alias or f'"{schema.spoken_field}"' not in structured:
            return structured
        try:
            data = json.loads(structured)
        except ValueError:
            return structured
        if not isinstance(data, dict):
            return structured
        return json.dumps(schema.to_wire(data), ensure_ascii=False)

    def _chat_kwargs(self) -> dict[str, Any]:
        if self._llm_config.supports_structured_output:
            # The OpenAI plugin's ``response_format`` takes a pydantic model; the compiled
            # JSON Schema (strict, speech-first) goes to the API as-is through extra_kwargs.
            return {"extra_kwargs": {"response_format": self._schema.response_format}}
        return {}

    async def llm_node(
        self,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        model_settings: ModelSettings,
    ) -> AsyncIterator[str | FlushSentinel | llm.ChatChunk]:
        if self._pending is not None:
            await self._apply_pending()
        turn = self._continue_tool_turn(chat_ctx)
        if turn is None:
            user = _last_user_message(chat_ctx)
            turn = self.turns.begin(
                user_text=(user.text_content or "") if user else "",
                user_metrics=dict(user.metrics) if user else None,
            )
        # Spans are started and ended by hand: this is a generator, resumed across awaits.
        # With tracing off the tracer is a no-op, so this costs nothing.
        span = tracer.start_span(
            "agent.llm_node",
            attributes={"agent.version": self.turns.version, "llm.model": self._llm_config.model},
        )
        mark = time.perf_counter()
        if self._schema.instructions_timing == "next_turn":
            turn.set_tts_instructions(self._carried_instructions)
            on_instructions = turn.set_next_tts_instructions
        else:
            on_instructions = turn.set_tts_instructions
        extractor = self._schema.extractor(on_tts_instructions=on_instructions)
        gate = WordGate()
        ctx = self._llm_context(chat_ctx)
        model = self.llm if isinstance(self.llm, llm.LLM) else self.session.llm
        turn.overhead_s += time.perf_counter() - mark
        emitted: list[str] = []  # everything the extractor returned while streaming
        flushed = False
        called_tools = False
        try:
            if not isinstance(model, llm.LLM):
                raise RuntimeError("no LLM is configured for this agent")

            async def model_text() -> AsyncIterator[str | llm.ChatChunk]:
                async with model.chat(
                    chat_ctx=ctx,
                    tools=tools,
                    tool_choice=model_settings.tool_choice,
                    conn_options=self.session.conn_options.llm_conn_options,
                    **self._chat_kwargs(),
                ) as stream:
                    chunks = aiter(stream)
                    limit = self._llm_config.first_token_timeout_seconds
                    deadline = asyncio.get_running_loop().time() + limit if limit else None
                    while True:
                        if deadline is not None and turn.first_token_at is None:
                            try:
                                async with asyncio.timeout_at(deadline):
                                    chunk = await anext(chunks, None)
                            except TimeoutError:
                                raise RuntimeError(f"no first token within {limit} s") from None
                        else:
                            chunk = await anext(chunks, None)
                        if chunk is None:
                            break
                        if chunk.delta is None:
                            continue
                        if chunk.delta.tool_calls:
                            turn.mark_token()
                            yield llm.ChatChunk(
                                id=chunk.id,
                                delta=llm.ChoiceDelta(
                                    role="assistant", tool_calls=chunk.delta.tool_calls
                                ),
                            )
                        if chunk.delta.content:
                            turn.mark_token()
                            yield chunk.delta.content

            async for content in model_text():
                if isinstance(content, llm.ChatChunk):  # the framework runs the tools
                    called_tools = True
                    self._note_tool_calls(turn, content)
                    yield content
                    continue
                mark = time.perf_counter()
                delta = extractor.feed(content)
                turn.overhead_s += time.perf_counter() - mark
                if flushed:  # the rest of the JSON only feeds the structured turn
                    continue
                if delta:
                    turn.mark_spoken()
                    emitted.append(delta)
                    if ready := gate.push(delta):
                        yield ready
                if extractor.spoken_closed and any(part.strip() for part in emitted):
                    # (An empty string waits for the end: the fallback line is spoken then.)
                    # The speech is complete: end the segment now, so the sentence tokenizer
                    # releases the last sentence without waiting for the hidden fields.
                    if rest := gate.release():
                        yield rest
                    flushed = True
                    turn.spoken_flushed_at = time.perf_counter()
                    yield FlushSentinel()
        except Exception as exc:  # noqa: BLE001 - provider trouble mid-turn: keep what was said
            logger.warning("LLM failed during the turn: %s", exc)
            PROVIDER_ERRORS.labels(kind="llm").inc()
            turn.errors.append(f"LLM error: {exc}")
            span.record_exception(exc)
        finally:
            self._complete(turn, extractor, called_tools=called_tools)
            span.set_attribute("turn.llm_ttft_ms", turn.llm_ttft_ms or 0.0)
            span.end()
        if flushed:
            return
        # The spoken string never closed. Cut JSON: the word being written may be cut off,
        # so it is not spoken. A plain-text reply ended normally: its last word is whole.
        held = gate.release()
        if held and not turn.structured:
            yield held
        tail = turn.spoken_text[len("".join(emitted)) :]
        if tail.strip():  # e.g. a reply that was only an unterminated code fence
            turn.mark_spoken()
            yield tail
        elif turn.awaiting_tools or called_tools:
            pass  # the next generation (with the tools' results) speaks
        elif not turn.spoken_text.strip():
            turn.errors.append("no spoken text in the reply; the fallback line was spoken")
            turn.spoken_text = self._fallback_line
            turn.data[self._schema.spoken_field] = self._fallback_line
            turn.mark_spoken()
            yield self._fallback_line

    def _note_tool_calls(self, turn: TurnState, chunk: llm.ChatChunk) -> None:
        for call in chunk.delta.tool_calls if chunk.delta else []:
            if call.call_id in self._tool_calls:
                continue
            mark = time.perf_counter()
            try:
                arguments: Any = json.loads(call.arguments or "{}")
            except ValueError:
                arguments = call.arguments
            record = ToolCallRecord(call_id=call.call_id, name=call.name, arguments=arguments)
            turn.tool_calls.append(record)
            self._tool_calls[call.call_id] = (record, turn)
            record.overhead_s += time.perf_counter() - mark

    def _complete(
        self, turn: TurnState, extractor: StreamingExtractor, *, called_tools: bool = False
    ) -> None:
        mark = time.perf_counter()
        with tracer.start_as_current_span("agent.extraction") as span:
            self._validate(turn, extractor)
            turn.awaiting_tools = called_tools and not turn.spoken_text.strip()
            span.set_attributes(
                {
                    "turn.structured": turn.structured,
                    "turn.valid": not turn.errors,
                    "turn.error_count": len(turn.errors),
                    **turn_attributes(self._trace_fields, turn.data),
                }
            )
        turn.llm_done = True
        turn.instructions_settled.set()
        turn.generated.set()
        if self._schema.instructions_timing == "next_turn":
            self._carried_instructions = turn.next_tts_instructions
        turn.overhead_s += time.perf_counter() - mark

    def _validate(self, turn: TurnState, extractor: StreamingExtractor) -> None:
        result = extractor.finish()
        turn.data = result.data
        turn.raw_text = result.raw_text
        turn.structured = result.is_structured
        turn.spoken_text = result.spoken_text
        turn.errors[:0] = result.errors if result.raw_text else []
        for validator in self._validators:
            turn.errors.extend(validator(result.data, self._schema.spoken_field))

    # --- TTS -------------------------------------------------------------------------------

    def _apply_tts_instructions(self, turn: TurnState | None) -> None:
        """Set the turn's voice instructions on the TTS (any TTS whose options take them)."""
        engine = self.tts if isinstance(self.tts, tts.TTS) else self.session.tts
        instructions = (turn.tts_instructions if turn else None) or (
            self._tts_config.default_instructions
        )
        for each in tts_engines(engine):
            update = getattr(each, "update_options", None)
            if update is None:
                continue
            try:
                update(instructions=instructions or "")
            except TypeError:  # a TTS without per-request instructions
                logger.debug("TTS %r takes no instructions", each)

    async def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterator[rtc.AudioFrame]:
        turn = self.turns.current
        span = tracer.start_span(
            "agent.tts_node",
            attributes={
                "tts.provider": self._tts_config.provider,
                "tts.voice": self._tts_config.voice,
            },
        )
        try:
            if turn is not None and not turn.instructions_settled.is_set():
                await turn.instructions_settled.wait()
            # Before the default node opens the TTS stream: a streaming TTS takes its options
            # when the stream opens, a non-streaming one at each sentence's request.
            self._apply_tts_instructions(turn)
            span.set_attribute("tts.instructions_applied", bool(turn and turn.tts_instructions))
            async for frame in Agent.default.tts_node(self, text, model_settings):
                yield frame
        except Exception as exc:  # noqa: BLE001 - the transcript still carries the turn
            logger.warning("TTS failed during the turn: %s", exc)
            PROVIDER_ERRORS.labels(kind="tts").inc()
            span.record_exception(exc)
            if turn is not None:
                turn.errors.append(f"TTS error: {exc}")
        finally:
            span.end()


_BACKGROUND: set[asyncio.Task[Any]] = set()


def tts_engines(engine: tts.TTS | None) -> list[tts.TTS]:
    """The TTS engines behind ``engine``: each of a fallback chain's, or just it."""
    if engine is None:
        return []
    if isinstance(engine, tts.FallbackAdapter):
        return list(engine._tts_instances)  # livekit keeps no public accessor
    return [engine]


def bounded_history(items: list[llm.ChatItem], max_turns: int) -> list[llm.ChatItem]:
    """The system prompt, the few-shot examples and the last ``max_turns`` conversation turns
    (a turn starts at a user message); if the latest structured reply is older, it stays too,
    so stage, score and flags carry over. A long session then costs per turn what a short
    one does."""

    def pinned(item: llm.ChatItem) -> bool:
        return isinstance(item, llm.ChatMessage) and (
            item.role in ("system", "developer") or bool(item.extra.get(EXAMPLE_EXTRA_KEY))
        )

    conversation = [index for index, item in enumerate(items) if not pinned(item)]
    starts = [
        index
        for index in conversation
        if isinstance(items[index], llm.ChatMessage) and items[index].role == "user"
    ]
    if len(starts) <= max_turns:
        return items
    cut = starts[-max_turns]
    kept = {index for index in conversation if index >= cut}
    for index in reversed(conversation):
        item = items[index]
        if (
            isinstance(item, llm.ChatMessage)
            and item.role == "assistant"
            and item.extra.get(STRUCTURED_EXTRA_KEY)
        ):
            kept.add(index)
            break
    return [item for index, item in enumerate(items) if pinned(item) or index in kept]


WORD_END = re.compile(r"\s")
MAX_HELD_CHARS = 48
"""A longer run without a space (a language written without them) is released anyway."""


class WordGate:
    """Holds back the word being written until a space ends it or the spoken string closes.

    So a reply cut off mid-string (truncated JSON, a dropped stream) never speaks half a word.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = ""

    def push(self, text: str) -> str:
        """Add spoken text; return the part that ends in whole words (possibly ``""``)."""
        text = self._held + text
        cut = len(text)
        while cut and not WORD_END.match(text, cut - 1):
            cut -= 1
            if len(text) - cut >= MAX_HELD_CHARS:
                self._held = ""
                return text
        self._held = text[cut:]
        return text[:cut]

    def release(self) -> str:
        """The held text (the string closed, so its last word is whole)."""
        held, self._held = self._held, ""
        return held
