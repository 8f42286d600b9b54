"""Shared rule for telling a JSON answer from plain text (used by validation and streaming)."""

from __future__ import annotations

import re

FENCE_OPEN_RE = re.compile(r"```[A-Za-z0-9_+.-]*\s*")
"""A Markdown code fence opener such as ```` ```json\\n ````, including following whitespace."""


def json_body(text: str) -> str | None:
    """The JSON object text inside ``text``, or ``None`` when the answer is plain text.

    The answer is JSON iff its first non-whitespace character, after an optional leading code
    fence, is ``{``. A closing fence is removed as well.
    """
    body = text.strip()
    if body.startswith("```"):
        body = body[FENCE_OPEN_RE.match(body).end() :]  # type: ignore[union-attr]
        if body.endswith("```"):
            body = body[:-3].rstrip()
    return body if body.startswith("{") else None
