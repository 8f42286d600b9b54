"""What the layers above provide to ``agents_config``, registered in their ``AppConfig.ready``.

``agents_config`` must not import ``sessions_app`` or ``worker`` (the layers above it), yet:

- the suite runner talks to a version the way the worker would: the worker registers its
  text-mode engine (``worker.textmode.TextConversation``, :func:`register_text_engine`);
- an agent with open sessions may not be deleted: sessions register a delete guard
  (:func:`register_delete_guard`);
- the agent admin shows recent turn latency: sessions register the selector that measures it
  (:func:`register_turn_latency`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agents_config.contracts import AgentDocument
from agents_config.providers import ProviderKeys


class TurnResult(Protocol):
    data: dict[str, Any]
    spoken_text: str
    errors: list[str]
    llm_ttft_ms: float | None
    tool_calls: list[dict[str, Any]]


class TextConversationLike(Protocol):
    """``async with engine(...) as chat: record = await chat.say("Hello")``."""

    async def __aenter__(self) -> TextConversationLike: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def say(self, text: str) -> TurnResult | None: ...


TextEngine = Callable[..., TextConversationLike]
"""Called with ``document``, ``version``, ``keys``, ``user_details``, ``overrides`` and
``tool_mocks``."""

_text_engine: Callable[[], TextEngine] | None = None
_delete_guards: list[Callable[[Any], str | None]] = []
_turn_latency: Callable[..., dict[str, dict[str, float | None]]] | None = None


def register_text_engine(loader: Callable[[], TextEngine]) -> None:
    """``loader()`` returns the engine; it is called on first use (its imports are heavy)."""
    global _text_engine
    _text_engine = loader


def text_conversation(
    *,
    document: AgentDocument,
    version: str,
    keys: ProviderKeys,
    user_details: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    tool_mocks: dict[str, Any] | None = None,
) -> TextConversationLike:
    """A fresh text-mode conversation with a version, on the registered engine; with
    ``tool_mocks`` (a suite run) its tools call nothing real."""
    if _text_engine is None:
        raise RuntimeError("no text engine registered (is the 'worker' app installed?)")
    engine = _text_engine()
    return engine(
        document=document,
        version=version,
        keys=keys,
        user_details=user_details,
        overrides=overrides,
        tool_mocks=tool_mocks,
    )


def register_delete_guard(guard: Callable[[Any], str | None]) -> None:
    """``guard(agent)`` returns why the agent may not be deleted now, or None."""
    if guard not in _delete_guards:
        _delete_guards.append(guard)


def delete_refusal(agent: Any) -> str | None:
    """The first reason a registered guard gives against deleting ``agent`` (None: go ahead)."""
    for guard in _delete_guards:
        reason = guard(agent)
        if reason:
            return reason
    return None


def register_turn_latency(selector: Callable[..., dict[str, dict[str, float | None]]]) -> None:
    """``selector(agent=..., recent=...)``: p50/p90 of the agent's recent turns."""
    global _turn_latency
    _turn_latency = selector


def turn_latency(*, agent: Any, recent: int = 500) -> dict[str, dict[str, float | None]]:
    """The registered turn-latency selector's answer (no data when none is registered)."""
    if _turn_latency is None:
        empty = {"p50": None, "p90": None, "count": 0}
        return {"first_spoken_ms": dict(empty), "tts_ttfb_ms": dict(empty)}
    return _turn_latency(agent=agent, recent=recent)
