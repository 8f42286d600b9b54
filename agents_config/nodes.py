"""Custom pipeline nodes, referenced by name in ``pipeline_config.custom_nodes``.

A node is a small, pure transformation applied by the dynamic agent at a fixed point of a turn.
Names are validated against this registry when a configuration is saved or published, so an
unknown name never reaches a running worker. This module imports nothing heavy: the contracts
read it in the API and admin processes too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class NodeStage(StrEnum):
    USER_TRANSCRIPT = "user_transcript"  # before the user's text is stored
    SPOKEN_TEXT = "spoken_text"  # on the final spoken text of a turn, before storage


@dataclass(frozen=True)
class CustomNode:
    name: str
    stage: NodeStage
    description: str
    apply: Callable[[str], str]


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()-]{7,}\d(?!\w)")


def redact_pii(text: str) -> str:
    """Mask e-mail addresses, card-like digit runs and phone numbers."""
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub("[number]", text)
    return _PHONE.sub("[phone]", text)


MAX_SPOKEN_CHARS = 600


def limit_spoken_length(text: str, limit: int = MAX_SPOKEN_CHARS) -> str:
    """Cut over-long spoken text at the last sentence end before ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    return head[: cut + 1] if cut > limit // 3 else head.rstrip() + "…"


NODE_REGISTRY: dict[str, CustomNode] = {
    node.name: node
    for node in (
        CustomNode(
            "pii_redaction",
            NodeStage.USER_TRANSCRIPT,
            "Redacts e-mail addresses, card numbers and phone numbers from stored user text.",
            redact_pii,
        ),
        CustomNode(
            "max_spoken_length",
            NodeStage.SPOKEN_TEXT,
            f"Limits the stored spoken text to {MAX_SPOKEN_CHARS} characters at a sentence end.",
            limit_spoken_length,
        ),
    )
}


def apply_nodes(names: list[str] | tuple[str, ...], stage: NodeStage, text: str) -> str:
    """Run the named nodes of ``stage`` over ``text`` in configured order.

    Unknown names are skipped (publishing rejects them, so only a hand-edited version could
    carry one); nodes of other stages are left for their own point of the turn.
    """
    for name in names:
        node = NODE_REGISTRY.get(name)
        if node is not None and node.stage == stage:
            text = node.apply(text)
    return text
