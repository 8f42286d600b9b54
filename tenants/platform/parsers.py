"""The API's JSON parser: bounded body size and nesting depth, only storable values.

Limits live in ``tenants.platform.json_input`` (depth ``JSON_MAX_DEPTH``, finite numbers, no lone
surrogates or NUL); a body that breaks them is a 400 ``parse_error`` whose ``fields`` name the
offending path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from tenants.platform import json_input
from tenants.platform.exceptions import PayloadTooLarge, UnacceptableJSON


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
            return json_input.loads(raw.decode(encoding))
        except json_input.UnsafeJSON as exc:
            raise UnacceptableJSON(exc.errors) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
