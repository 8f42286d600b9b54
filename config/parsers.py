"""The API's JSON parser: bounded body size and no NUL characters."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.exceptions import PayloadTooLarge


def contains_nul(value: Any) -> bool:
    """True if any string (key or value) in a parsed JSON value contains U+0000.

    PostgreSQL text and jsonb cannot store it, so it is refused up front as a 400.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class LimitedJSONParser(JSONParser):
    """JSON bodies up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes; larger ones are a 413.

    DRF reads the request stream directly, bypassing Django's own body limit, so the limit is
    enforced here (whatever Content-Length claims).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if stream is None:
            raise ParseError("JSON parse error - empty body.")
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(
                raw.decode(encoding),
                parse_constant=_reject_constant,
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if contains_nul(data):
            raise ParseError("JSON strings may not contain NUL (\\u0000) characters.")
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
