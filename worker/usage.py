"""Provider usage of a session, collected from livekit-agents' metrics events.

The LLM, TTS and STT plugins emit ``LLMMetrics`` (prompt, cached and completion tokens; in
text mode the OpenAI plugin reads them from the stream's final ``usage`` chunk),
``TTSMetrics`` (characters) and ``STTMetrics`` (audio seconds). The meter adds them up until
the turn store takes them (``drain``) with the next stored turn, so each turn carries what was
used since the previous one. Costs are computed from it by ``sessions_app.billing``.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import metrics as lk_metrics

from sessions_app.billing import usage_key, usage_merge


def _key(metric: Any, provider: str) -> str:
    # The plugins report their host as ``model_provider``; the price table wants the
    # configured provider's name.
    meta = getattr(metric, "metadata", None)
    model = getattr(meta, "model_name", None) or getattr(metric, "label", None)
    return usage_key(provider, model)


def usage_of(metric: Any, *, providers: dict[str, str]) -> dict[str, Any]:
    """One metrics event as a usage document (empty for events that cost nothing).

    ``providers`` names the configured provider per kind (``llm``, ``tts``, ``stt``).
    """
    if isinstance(metric, lk_metrics.LLMMetrics):
        return {
            "llm": {
                _key(metric, providers.get("llm", "openai")): {
                    "prompt_tokens": metric.prompt_tokens,
                    "cached_tokens": metric.prompt_cached_tokens,
                    "completion_tokens": metric.completion_tokens,
                }
            }
        }
    if isinstance(metric, lk_metrics.TTSMetrics):
        key = _key(metric, providers.get("tts", "openai"))
        return {"tts": {key: {"characters": metric.characters_count}}}
    if isinstance(metric, lk_metrics.STTMetrics):
        return {
            "stt": {
                _key(metric, providers.get("stt", "deepgram")): {
                    "audio_seconds": round(metric.audio_duration, 3)
                }
            }
        }
    return {}


class UsageMeter:
    """Attach to an ``AgentSession``; ``drain()`` returns and resets what was used."""

    def __init__(self, providers: dict[str, str] | None = None) -> None:
        self.providers = dict(providers or {})
        self._pending: dict[str, Any] = {}
        self.total: dict[str, Any] = {}

    def attach(self, session: Any) -> UsageMeter:
        session.on("metrics_collected", self._on_metrics)
        return self

    def _on_metrics(self, event: Any) -> None:
        self.add(usage_of(event.metrics, providers=self.providers))

    @classmethod
    def for_document(cls, document: Any) -> UsageMeter:
        """A meter naming the providers the agent document configures."""
        return cls(
            {
                "llm": document.llm_config.provider,
                "tts": document.tts_config.provider,
                "stt": document.stt_config.provider,
            }
        )

    def add(self, usage: dict[str, Any]) -> None:
        usage_merge(self._pending, usage)
        usage_merge(self.total, usage)

    def drain(self) -> dict[str, Any]:
        pending, self._pending = self._pending, {}
        return pending


def budget_closer(ctx: Any, session: Any) -> Any:
    """What the worker does once a budget is spent: say the closing line, then end the job
    (its shutdown callback ends the session, which releases the reservation)."""

    async def close(closing_line: str) -> None:
        try:
            if closing_line:
                handle = session.say(closing_line, allow_interruptions=False)
                await handle
        finally:
            ctx.shutdown("budget_exceeded")

    return close
