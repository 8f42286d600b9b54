"""AgentFactory: builds the LLM, STT, TTS, VAD, turn detection and the agent from a version.

Provider keys come from the tenant's encrypted credentials, falling back to the environment
(``ProviderKeys.for_tenant`` in ``agents_config.providers``). A custom ``llm_config.base_url`` is
called through the outbound-URL policy (``tenants.outbound``) and receives the platform key only
where ``tenants.secrets.platform_key_refusal`` allows. A provider that is unknown or cannot be
configured raises :class:`ProviderConfigError`, which the job turns into a failed session
with that reason.
"""

from __future__ import annotations

import functools
import logging
import ssl
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from livekit.agents import AgentSession, APIConnectOptions, llm, stt, tts, vad
from livekit.agents.voice.agent_session import SessionConnectOptions

from agents_config.contracts import AgentDocument
from agents_config.providers import (
    ProviderConfigError,
    ProviderKeys,
    openai_client,
)
from worker.agent import AgentBlueprint, DynamicAgent
from worker.publisher import TurnPublisher
from worker.turns import TurnStore

if TYPE_CHECKING:
    from worker.handoff import HandoffRuntime

logger = logging.getLogger(__name__)

FALLBACK_ATTEMPT_TIMEOUT = 5.0
"""Seconds one LLM of a fallback chain gets before the next one is tried."""

OPENAI_TTS_FORMAT = "pcm"  # raw 24 kHz 16-bit mono: no decoder work, lowest first byte


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context per process (built in prewarm): loading the CA bundle for each
    provider client costs ~100 ms of the session's start on its event loop."""
    import httpx2

    return httpx2.create_ssl_context()


@dataclass
class AgentFactory:
    """Builds one session's components from a validated document."""

    document: AgentDocument
    keys: ProviderKeys
    vad: vad.VAD | None = None
    """The process's prewarmed VAD (``JobProcess.userdata``); loaded on demand otherwise."""
    eot_ready: bool | None = None
    """Whether the process's prewarm loaded the end-of-turn model (``False``: it could not, so
    sessions use VAD endpointing instead of failing at start); None: not known, try."""
    text_only: bool = False
    """Text mode (``manage.py talk``, tests): no STT, VAD or turn detection is built."""
    llm_retries: int = 1
    notes: list[str] = field(default_factory=list)
    """What was degraded while building (logged; useful in tests)."""
    tool_env: Any = None
    """``worker.tools.ToolEnvironment``: the session, and the tenant secrets (decrypted: never
    log) that the document's HTTP tools and MCP servers name."""
    _openai_clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def openai_client(self, what: str, base_url: str) -> Any:
        """One OpenAI client per endpoint for this session's LLM, TTS and STT (the plugins'
        own settings); closed by :meth:`aclose`.

        A tenant-supplied endpoint (``llm_config.base_url``) gets the outbound-URL policy's
        client (checked on the resolved address at connect time, no redirects), and the
        platform's key only where ``platform_key_refusal`` allows: otherwise this raises
        ``ProviderConfigError`` with the reason and nothing is sent. The operator's endpoint
        (``OPENAI_BASE_URL`` or OpenAI's own) uses the process's shared TLS context.
        """
        client = self._openai_clients.get(base_url)
        if client is not None:
            return client
        api_key = self._openai_key(what)
        if base_url and base_url == self.document.llm_config.base_url:
            from tenants.secrets import platform_key_refusal

            if not self.keys.openai_own:
                refusal = platform_key_refusal(
                    provider="openai", url=base_url, field="llm_config.base_url"
                )
                if refusal is not None:
                    raise ProviderConfigError(str(refusal))
            client = openai_client(api_key=api_key, base_url=base_url)
        else:
            import httpx2
            import openai

            client = openai.AsyncClient(
                api_key=api_key,
                base_url=base_url or None,
                max_retries=0,
                http_client=httpx2.AsyncClient(
                    verify=tls_context(),
                    timeout=httpx2.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0),
                    follow_redirects=False,
                    limits=httpx2.Limits(
                        max_connections=50, max_keepalive_connections=50, keepalive_expiry=120
                    ),
                ),
            )
        self._openai_clients[base_url] = client
        return client

    async def aclose(self) -> None:
        """Close the provider clients this factory made (the plugins do not own them)."""
        clients, self._openai_clients = list(self._openai_clients.values()), {}
        for client in clients:
            await client.close()

    # --- providers -------------------------------------------------------------------------

    def _openai_key(self, what: str) -> str:
        if not self.keys.openai:
            raise ProviderConfigError(
                f"{what}: no OpenAI API key (set a tenant credential or OPENAI_API_KEY)"
            )
        return self.keys.openai

    def _deepgram_key(self, what: str) -> str:
        if not self.keys.deepgram:
            raise ProviderConfigError(
                f"{what}: no Deepgram API key (set a tenant credential or DEEPGRAM_API_KEY)"
            )
        return self.keys.deepgram

    def _key(self, credential: str, what: str) -> str:
        from tenants.secrets import ENVIRONMENT_KEYS

        key = self.keys.for_credential(credential)
        if not key:
            setting = ENVIRONMENT_KEYS.get(credential, credential.upper())
            raise ProviderConfigError(
                f"{what}: no {credential} API key (set a tenant credential or {setting})"
            )
        return key

    def build_llm(self) -> llm.LLM:
        """The configured LLM; with ``llm_config.fallbacks``, livekit's ``llm.FallbackAdapter``
        over it and each fallback in order (each built like a primary: its own key, the
        outbound policy for its own ``base_url``)."""
        chain = self._chain("llm_config", AgentFactory._build_single_llm)
        if len(chain) == 1:
            return chain[0]
        return llm.FallbackAdapter(chain, attempt_timeout=FALLBACK_ATTEMPT_TIMEOUT)

    def _chain(self, section: str, build_single: Any) -> list[Any]:
        """The section's component, then one per ``<section>.fallbacks`` entry, each built by
        ``build_single`` on a copy of the document (its own key and ``base_url`` policy,
        sharing this factory's clients); errors name the fallback's index."""
        chain = [build_single(self)]
        for index, config in enumerate(getattr(self.document, section).fallbacks):
            helper = AgentFactory(
                document=self.document.model_copy(update={section: config}),
                keys=self.keys,
                text_only=self.text_only,
                _openai_clients=self._openai_clients,
            )
            try:
                chain.append(build_single(helper))
            except ProviderConfigError as exc:
                raise ProviderConfigError(f"{section}.fallbacks[{index}]: {exc}") from exc
        return chain

    def _build_single_llm(self) -> llm.LLM:
        config = self.document.llm_config
        if config.provider == "anthropic":
            return self._build_anthropic_llm()
        if config.provider in ("together", "groq", "openrouter"):
            return self._build_preset_llm()
        if config.provider != "openai":
            raise ProviderConfigError(f"llm_config.provider: unknown provider {config.provider!r}")
        from livekit.plugins import openai

        options: dict[str, Any] = {
            "model": config.model,
            "client": self.openai_client(
                "llm_config", config.base_url or self.keys.openai_base_url
            ),
            "temperature": config.temperature,
        }
        if config.max_tokens is not None:
            options["max_completion_tokens"] = config.max_tokens
        options.update(config.provider_options())
        try:
            return openai.LLM(**options)
        except Exception as exc:
            raise ProviderConfigError(f"llm_config: {exc}") from exc

    def _build_preset_llm(self) -> llm.LLM:
        """An OpenAI-compatible preset: the OpenAI plugin on the preset's fixed endpoint with
        the preset's own key (never the OpenAI key, never another host)."""
        from livekit.plugins import openai

        config = self.document.llm_config
        spec = config.spec
        options: dict[str, Any] = {
            "model": config.model,
            "api_key": self._key(spec.credential, "llm_config"),
            "base_url": spec.base_url,
            "temperature": config.temperature,
            **config.provider_options(),
        }
        if config.max_tokens is not None:
            options["max_completion_tokens"] = config.max_tokens
        try:
            return openai.LLM(**options)
        except Exception as exc:
            raise ProviderConfigError(f"llm_config: {exc}") from exc

    def _build_anthropic_llm(self) -> llm.LLM:
        """Anthropic's Messages API (livekit-plugins-anthropic). It has no JSON-schema response
        format, so the contract makes the agent ask for the schema in the prompt."""
        try:
            from livekit.plugins import anthropic
        except ImportError as exc:  # pragma: no cover - pinned in requirements.txt
            raise ProviderConfigError(f"llm_config: {exc}") from exc

        config = self.document.llm_config
        options: dict[str, Any] = {
            "model": config.model,
            "api_key": self._key("anthropic", "llm_config"),
            "temperature": config.temperature,
            **config.provider_options(),
        }
        if self.keys.anthropic_base_url:
            options["base_url"] = self.keys.anthropic_base_url
        if config.max_tokens is not None:
            options["max_tokens"] = config.max_tokens
        if config.tool_choice != "auto":
            options["tool_choice"] = config.tool_choice
        try:
            return anthropic.LLM(**options)
        except Exception as exc:
            raise ProviderConfigError(f"llm_config: {exc}") from exc

    def build_stt(self) -> stt.STT | None:
        """The configured STT; with ``stt_config.fallbacks``, livekit's ``stt.FallbackAdapter``
        over it and each fallback in order (the session's VAD lets a non-streaming one
        stream)."""
        if self.text_only:
            return None
        chain = self._chain("stt_config", AgentFactory._build_single_stt)
        if len(chain) == 1:
            return chain[0]
        return stt.FallbackAdapter(chain, vad=self.build_vad())

    def _build_single_stt(self) -> stt.STT:
        config = self.document.stt_config
        try:
            if config.provider == "deepgram":
                from livekit.plugins import deepgram

                return deepgram.STT(
                    model=config.model,
                    language=config.language,
                    api_key=self._deepgram_key("stt_config"),
                )
            if config.provider == "openai":
                from livekit.plugins import openai

                return openai.STT(
                    model=config.model,
                    language=config.language,
                    client=self.openai_client("stt_config", self.keys.openai_base_url),
                )
        except ProviderConfigError:
            raise
        except Exception as exc:
            raise ProviderConfigError(f"stt_config: {exc}") from exc
        raise ProviderConfigError(f"stt_config.provider: unknown provider {config.provider!r}")

    def build_tts(self) -> tts.TTS:
        """The configured TTS; with ``tts_config.fallbacks``, livekit's ``tts.FallbackAdapter``
        over it and each fallback in order (voice instructions reach every engine)."""
        chain = self._chain("tts_config", AgentFactory._build_single_tts)
        if len(chain) == 1:
            return chain[0]
        # The next engine at once: a retry of a failing one is silence for the caller.
        return tts.FallbackAdapter(chain, max_retry_per_tts=0)

    def _build_single_tts(self) -> tts.TTS:
        config = self.document.tts_config
        try:
            if config.provider == "openai":
                from livekit.plugins import openai

                base_url = self.document.llm_config.base_url or self.keys.openai_base_url
                options: dict[str, Any] = {
                    "model": config.model,
                    "voice": config.voice,
                    "client": self.openai_client("tts_config", base_url),
                    "response_format": OPENAI_TTS_FORMAT,
                }
                if config.default_instructions:
                    options["instructions"] = config.default_instructions
                options.update(config.provider_options())
                return openai.TTS(**options)
            if config.provider == "deepgram":
                from livekit.plugins import deepgram

                return deepgram.TTS(model=config.model, api_key=self._deepgram_key("tts_config"))
            if config.provider == "cartesia":
                return self._build_cartesia_tts()
        except ProviderConfigError:
            raise
        except Exception as exc:
            raise ProviderConfigError(f"tts_config: {exc}") from exc
        raise ProviderConfigError(f"tts_config.provider: unknown provider {config.provider!r}")

    def _build_cartesia_tts(self) -> tts.TTS:
        """Cartesia sonic over its websocket (streaming; ``/tts/bytes`` for one-shot)."""
        from livekit.plugins import cartesia

        config = self.document.tts_config
        options: dict[str, Any] = {
            "model": config.model,
            "voice": config.voice,
            "api_key": self._key("cartesia", "tts_config"),
            **config.provider_options(),
        }
        language = options.pop("language", None) or self.document.stt_config.language
        options["language"] = language.split("-")[0]
        if self.keys.cartesia_base_url:
            options["base_url"] = self.keys.cartesia_base_url
        return cartesia.TTS(**options)

    def build_vad(self) -> vad.VAD | None:
        if self.text_only or not self.document.pipeline_config.vad_enabled:
            return None
        if self.vad is None:
            from livekit.plugins import silero

            self.vad = silero.VAD.load()
        return self.vad

    def build_turn_detection(self, vad_model: vad.VAD | None) -> Any:
        """The local end-of-turn model when enabled; VAD/STT endpointing otherwise."""
        fallback = "vad" if vad_model is not None else "stt"
        if self.text_only:
            return None
        if not self.document.pipeline_config.turn_detection:
            return fallback
        if self.eot_ready is False:
            note = f"end-of-turn model did not load in this process; using {fallback} endpointing"
            logger.warning(note)
            self.notes.append(note)
            return fallback
        try:
            from livekit.agents.inference import TurnDetector

            return TurnDetector(version="v1-mini")
        except Exception as exc:  # noqa: BLE001 - degrade to endpointing, never fail the session
            note = f"turn detection model unavailable ({exc}); using {fallback} endpointing"
            logger.warning(note)
            self.notes.append(note)
            return fallback

    def build_noise_cancellation(self) -> Any:
        if self.text_only or not self.document.pipeline_config.noise_cancellation:
            return None
        try:
            from livekit.plugins import noise_cancellation  # type: ignore[attr-defined]
        except ImportError:
            note = (
                "noise cancellation requested but livekit-plugins-noise-cancellation is not "
                "installed; continuing without it"
            )
            logger.warning(note)
            self.notes.append(note)
            return None
        return noise_cancellation.BVC()

    # --- agent and session -----------------------------------------------------------------

    def build_agent(
        self,
        *,
        blueprint: AgentBlueprint,
        publisher: TurnPublisher,
        store: TurnStore | None = None,
        handoffs: HandoffRuntime | None = None,
        chat_ctx: llm.ChatContext | None = None,
    ) -> DynamicAgent:
        """The agent with its LLM, TTS and tools (STT/VAD live on the session): its
        ``transfer_to_agent`` tools (with ``handoffs``) and its MCP servers' tools."""
        tools: list[Any] = []
        if handoffs is not None:
            tools += handoffs.tools_for(self.document)
        suite_run = getattr(self.tool_env, "mocks", None) is not None
        if self.document.tools_config.mcp_servers and not suite_run:  # suites: no MCP
            # Imported only when used: the ``mcp`` package takes seconds to import.
            from worker.mcp import mcp_toolsets

            secrets = self.tool_env.secrets if self.tool_env is not None else {}
            tools += mcp_toolsets(self.document.tools_config, secrets)
        return DynamicAgent(
            blueprint=blueprint,
            publisher=publisher,
            store=store,
            llm=self.build_llm(),
            tts=self.build_tts(),
            tool_env=self.tool_env,
            tools=tools,
            chat_ctx=chat_ctx,
        )

    def session_options(self) -> dict[str, Any]:
        vad_model = self.build_vad()
        turn_detection = self.build_turn_detection(vad_model)
        turn_handling: dict[str, Any] = {
            # A discarded speculative reply never reaches the conversation, so it is never
            # recorded (``worker.turns``).
            "preemptive_generation": {
                "enabled": self.document.pipeline_config.preemptive_generation
            },
        }
        if turn_detection is not None or self.text_only:
            # Text mode has no audio: None keeps livekit-agents from adding its default
            # TurnDetector (which would only warn that it has no VAD).
            turn_handling["turn_detection"] = turn_detection
        return {
            "stt": self.build_stt() or _not_given(),
            "vad": vad_model,
            "turn_handling": turn_handling,
            "conn_options": SessionConnectOptions(
                llm_conn_options=APIConnectOptions(max_retry=self.llm_retries),
                # Provider errors are handled per turn (fallback line); never close for them.
                max_unrecoverable_errors=sys.maxsize,
            ),
            # ``pipeline_config.silence_timeout_seconds`` (``worker.lifecycle``); None: never.
            "user_away_timeout": self.document.pipeline_config.silence_timeout_seconds,
            "max_tool_steps": self.document.tools_config.max_tool_steps,
        }

    def build_session(self, **extra: Any) -> AgentSession:
        return DrainingAgentSession(**{**self.session_options(), **extra})


def _not_given() -> Any:
    from livekit.agents.types import NOT_GIVEN

    return NOT_GIVEN


class DrainingAgentSession(AgentSession):
    """Closing drains: the current turn finishes (and is recorded) before the session closes.

    The job runtime calls ``aclose()`` when the worker shuts down; ``shutdown(drain=True)``
    lets the reply being spoken play out first.
    """

    drain_timeout: float = 20.0
    _running = False

    async def start(self, *args: Any, **kwargs: Any) -> Any:
        result = await super().start(*args, **kwargs)
        self._running = True
        return result

    async def aclose(self, *, drain: bool = True) -> None:
        """Close the session; ``drain=False`` (the caller was stopped, e.g. a task time limit)
        closes at once instead of letting the current reply finish."""
        import asyncio

        if not self._running or not drain:
            self._running = False
            await super().aclose()
            return
        self._running = False
        closed = asyncio.get_running_loop().create_future()

        def _on_close(_: Any) -> None:
            if not closed.done():
                closed.set_result(None)

        self.on("close", _on_close)
        try:
            self.shutdown(drain=True)
            await asyncio.wait_for(asyncio.shield(closed), self.drain_timeout)
        except (TimeoutError, RuntimeError):
            logger.warning("session did not drain in time; closing it")
        finally:
            self.off("close", _on_close)
        await super().aclose()
