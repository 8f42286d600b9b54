"""Named output validators, referenced by ``schema_config.custom_validators``.

Each takes a validated structured turn and the name of its spoken field and returns readable
errors (empty when the turn passes). They run after the schema's own validation; a failure is
recorded on the turn, never raised into the agent loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

OutputValidator = Callable[[Mapping[str, Any], str], list[str]]

_MARKDOWN = re.compile(r"(\*\*|__|^#{1,6}\s|^\s*[-*]\s|`|\[[^\]]+\]\([^)]+\))", re.MULTILINE)


def non_empty_spoken(turn: Mapping[str, Any], spoken_field: str) -> list[str]:
    text = turn.get(spoken_field)
    return [] if isinstance(text, str) and text.strip() else [f"{spoken_field}: is empty"]


def no_markdown_in_spoken(turn: Mapping[str, Any], spoken_field: str) -> list[str]:
    """TTS reads markdown symbols aloud; flag them so the prompt can be fixed."""
    text = turn.get(spoken_field)
    if isinstance(text, str) and _MARKDOWN.search(text):
        return [f"{spoken_field}: contains markdown formatting"]
    return []


OUTPUT_VALIDATORS: dict[str, OutputValidator] = {
    "non_empty_spoken": non_empty_spoken,
    "no_markdown_in_spoken": no_markdown_in_spoken,
}
