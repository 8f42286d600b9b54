"""Incremental extraction of the spoken field from a streamed JSON answer.

The scanner is a single-pass state machine over the top-level object: text is consumed once,
with ``re``/``str`` searches jumping over runs of ordinary characters, so a turn costs O(n)
however it is chunked (re-parsing the accumulated text at every chunk costs O(n^2)). Only
top-level keys are considered; nested values are skipped by tracking depth and strings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .text import FENCE_OPEN_RE

if TYPE_CHECKING:
    from .spec import CompiledSchema

logger = logging.getLogger(__name__)

MAX_PREAMBLE = 64
"""Characters of fence preamble (```` ```lang ````) to wait for before deciding on plain text."""

_WS = re.compile(r"[ \t\n\r]*")
_STRING_SPECIAL = re.compile(r'["\\]')
_NESTED_SPECIAL = re.compile(r'["{}\[\]]')
_SCALAR_END = re.compile(r"[,}\] \t\n\r]")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_LOW_SURROGATE_PREFIX = re.compile(r"\\(?:u(?:[dD](?:[c-fC-F][0-9A-Fa-f]{0,2})?)?)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

# Scanner states.
_PREAMBLE, _PLAIN, _KEY_OR_END, _KEY, _COLON, _VALUE = range(6)
_SPOKEN, _TTS, _SKIP_STRING, _SKIP_NESTED, _SKIP_SCALAR, _AFTER_VALUE, _DONE, _BROKEN = range(6, 14)


class _BadEscape(ValueError):
    """The stream is not valid JSON; extraction stops, ``finish`` reports the details.

    ``decoded`` is the string text decoded before the bad escape (still worth speaking).
    """

    decoded = ""


class _StringDecoder:
    """Decodes one JSON string body chunk by chunk.

    An escape cut by a chunk boundary (``\\``, ``\\u00``, a high surrogate waiting for its low
    half) is kept in ``pending`` and completed by the next chunk.
    """

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, text: str, i: int) -> tuple[str, int, bool]:
        """Decode ``text[i:]`` up to the closing quote: (decoded text, next index, closed)."""
        shift = 0
        if self.pending:
            shift = len(self.pending) - i  # index in the joined text - index in ``text``
            text, i, self.pending = self.pending + text[i:], 0, ""
        out: list[str] = []
        n = len(text)
        while True:
            match = _STRING_SPECIAL.search(text, i)
            if match is None:
                out.append(text[i:])
                return "".join(out), n - shift, False
            j = match.start()
            if j > i:
                out.append(text[i:j])
            if text[j] == '"':
                return "".join(out), j + 1 - shift, True
            try:
                i = _decode_escape(text, j, out)
            except _BadEscape as exc:
                exc.decoded = "".join(out)
                raise
            if i < 0:
                self.pending = text[j:]
                return "".join(out), n - shift, False


def _hex4(text: str, start: int) -> int:
    if _HEX4.fullmatch(text, start, start + 4) is None:
        raise _BadEscape("invalid \\u escape")
    return int(text[start : start + 4], 16)


def _decode_escape(text: str, j: int, out: list[str]) -> int:
    """Decode the escape at ``text[j]`` into ``out``; index after it, or -1 if cut short.

    Surrogates follow ``json.loads``: a high surrogate escape followed by a low one is one
    astral character; unpaired ones are kept as lone surrogates.
    """
    n = len(text)
    if j + 1 >= n:
        return -1
    code = text[j + 1]
    simple = _ESCAPES.get(code)
    if simple is not None:
        out.append(simple)
        return j + 2
    if code != "u":
        raise _BadEscape(f"invalid escape \\{code}")
    if j + 6 > n:
        return -1
    point = _hex4(text, j + 2)
    if 0xD800 <= point < 0xDC00:
        rest = text[j + 6 : j + 12]
        if len(rest) < 6 and (not rest or _LOW_SURROGATE_PREFIX.fullmatch(rest)):
            return -1
        if rest.startswith("\\u") and _HEX4.fullmatch(rest, 2):
            low = int(rest[2:], 16)
            if 0xDC00 <= low < 0xE000:
                out.append(chr(0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00)))
                return j + 12
    out.append(chr(point))
    return j + 6


@dataclass
class TurnResult:
    """One finished turn: validated data plus what was spoken."""

    data: dict[str, Any]
    errors: list[str]
    spoken_text: str
    raw_text: str
    is_structured: bool

    @property
    def ok(self) -> bool:
        return not self.errors


class StreamingExtractor:
    """Feed LLM text chunks, get the spoken field's text as soon as it arrives.

    ``on_tts_instructions`` is called with the TTS-instructions field's value as soon as that
    top-level string is complete (before any later spoken text is returned). An answer that
    does not start with ``{`` (optionally after a code fence) is plain text: it is spoken as
    it streams and recorded with a validation error.
    """

    def __init__(
        self,
        schema: CompiledSchema,
        *,
        on_tts_instructions: Callable[[str], None] | None = None,
    ) -> None:
        self._schema = schema
        self._spoken_key = schema.spoken_field
        # The LLM writes the wire key (an alias); one writing the configured name is heard too.
        self._spoken_keys = frozenset(
            k for k in (schema.spoken_field, schema.wire_spoken_key) if k is not None
        )
        self._tts_key = schema.tts_instructions_field
        self._on_tts = on_tts_instructions
        self._state = _PREAMBLE
        self._raw: list[str] = []
        self._spoken: list[str] = []
        self._preamble = ""
        self._held_ws = ""  # plain text: trailing whitespace is only spoken if text follows
        self._decoder = _StringDecoder()
        self._parts: list[str] = []  # current key / TTS value
        self._key = ""
        self._depth = 0
        self._skip_escape = False
        self._seen_spoken = False
        self._seen_tts = False
        self.spoken_closed = False
        """True once the spoken string's closing quote is read: the speech is complete."""
        self.result: TurnResult | None = None

    def feed(self, chunk: str) -> str:
        """Consume one chunk; return the spoken text it completed (possibly ``""``)."""
        self._raw.append(chunk)
        state = self._state
        if state == _SPOKEN:  # hot path: plain characters inside the spoken string
            if not self._decoder.pending and '"' not in chunk and "\\" not in chunk:
                self._spoken.append(chunk)
                return chunk
            delta = self._scan(chunk)
        elif state >= _KEY_OR_END:
            delta = self._scan(chunk)
        elif state == _PLAIN:
            delta = self._plain(chunk)
        else:
            delta = self._preamble_feed(chunk)
        if delta:
            self._spoken.append(delta)
        return delta

    def _preamble_feed(self, chunk: str) -> str:
        """Decide between JSON and plain text from the first non-blank characters."""
        self._preamble += chunk
        text = self._preamble.lstrip()
        if not text:
            return ""
        start = 0
        if text[0] == "`":
            if len(text) < 3 and text == "`" * len(text):
                return ""
            if text.startswith("```"):
                start = FENCE_OPEN_RE.match(text).end()  # type: ignore[union-attr]
                if start == len(text) and len(text) <= MAX_PREAMBLE:
                    return ""
        self._preamble = ""
        if text.startswith("{", start):
            self._state = _KEY_OR_END
            return self._scan(text[start + 1 :])
        self._state = _PLAIN
        return self._plain(text)

    def _plain(self, chunk: str) -> str:
        text = self._held_ws + chunk
        spoken = text.rstrip()
        self._held_ws = text[len(spoken) :]
        return spoken

    def _scan(self, text: str) -> str:
        """Run the JSON state machine over ``text``; return newly decoded spoken text."""
        out: list[str] = []
        state = self._state
        i, n = 0, len(text)
        try:
            while i < n:
                if state == _SPOKEN:
                    piece, i, closed = self._decoder.feed(text, i)
                    out.append(piece)
                    if closed:
                        state = _AFTER_VALUE
                        self.spoken_closed = True
                elif state == _SKIP_STRING:
                    if self._skip_escape:
                        self._skip_escape = False
                        i += 1
                        continue
                    match = _STRING_SPECIAL.search(text, i)
                    if match is None:
                        break
                    j = match.start()
                    if text[j] == "\\":
                        self._skip_escape = j + 1 >= n
                        i = j + 2
                    else:
                        i = j + 1
                        state = _SKIP_NESTED if self._depth else _AFTER_VALUE
                elif state == _SKIP_NESTED:
                    match = _NESTED_SPECIAL.search(text, i)
                    if match is None:
                        break
                    j = match.start()
                    i = j + 1
                    char = text[j]
                    if char == '"':
                        state = _SKIP_STRING
                    elif char in "{[":
                        self._depth += 1
                    else:
                        self._depth -= 1
                        if not self._depth:
                            state = _AFTER_VALUE
                elif state == _SKIP_SCALAR:
                    match = _SCALAR_END.search(text, i)
                    if match is None:
                        break
                    i = match.start()
                    state = _AFTER_VALUE
                elif state == _TTS:
                    piece, i, closed = self._decoder.feed(text, i)
                    self._parts.append(piece)
                    if closed:
                        state = _AFTER_VALUE
                        self._tts_complete("".join(self._parts))
                elif state == _KEY:
                    piece, i, closed = self._decoder.feed(text, i)
                    self._parts.append(piece)
                    if closed:
                        self._key = "".join(self._parts)
                        state = _COLON
                else:
                    i = _WS.match(text, i).end()  # type: ignore[union-attr]
                    if i >= n:
                        break
                    char = text[i]
                    i += 1
                    if state == _VALUE:
                        state = self._value_state(char)
                        if state == _SKIP_SCALAR:
                            i -= 1
                    elif state == _AFTER_VALUE:
                        state = _KEY_OR_END if char == "," else _DONE if char == "}" else _BROKEN
                    elif state == _KEY_OR_END:
                        if char == '"':
                            state = _KEY
                            self._parts = []
                        else:
                            state = _DONE if char == "}" else _BROKEN
                    elif state == _COLON:
                        state = _VALUE if char == ":" else _BROKEN
                    else:  # _DONE or _BROKEN: the rest is finish()'s business
                        break
        except _BadEscape as exc:
            if state == _SPOKEN:
                out.append(exc.decoded)
            state = _BROKEN
        self._state = state
        return "".join(out)

    def _value_state(self, char: str) -> int:
        """State for the value starting with ``char`` under the current top-level key."""
        key = self._key
        if char == '"':
            if key in self._spoken_keys and not self._seen_spoken:
                self._seen_spoken = True
                return _SPOKEN
            if key == self._tts_key and not self._seen_tts:
                self._seen_tts = True
                self._parts = []
                return _TTS
            return _SKIP_STRING
        if key in self._spoken_keys:
            self._seen_spoken = True  # a non-string spoken value: nothing to say
        if char in "{[":
            self._depth = 1
            return _SKIP_NESTED
        return _SKIP_SCALAR

    def _tts_complete(self, value: str) -> None:
        if self._on_tts is None:
            return
        try:
            self._on_tts(value)
        except Exception:  # a faulty callback must not cut the speech
            logger.exception("on_tts_instructions callback failed")

    def _flush(self) -> str:
        """End of stream: an undecided preamble (e.g. only a fence) is plain text."""
        if self._state != _PREAMBLE or not self._preamble.strip():
            return ""
        self._state = _PLAIN
        delta = self._preamble.strip()
        self._spoken.append(delta)
        return delta

    def finish(self) -> TurnResult:
        """Validate the whole answer (one full parse) and return the turn; idempotent.

        ``spoken_text`` includes anything ``feed`` had not returned yet.
        """
        if self.result is not None:
            return self.result
        self._flush()
        raw = "".join(self._raw)
        spoken = "".join(self._spoken)
        validation = self._schema.validate_output(raw)
        data = validation.data
        structured = self._state != _PLAIN
        if structured and spoken and not data.get(self._spoken_key):
            data[self._spoken_key] = spoken  # broken JSON: keep what was already said
        self.result = TurnResult(data, validation.errors, spoken, raw, structured)
        return self.result

    def iter(self, chunks: Iterable[str]) -> Iterator[str]:
        """Yield spoken text deltas for ``chunks``; the turn is then in :attr:`result`."""
        for chunk in chunks:
            delta = self.feed(chunk)
            if delta:
                yield delta
        tail = self._flush()
        if tail:
            yield tail
        self.finish()

    async def stream(self, chunks: AsyncIterable[str]) -> AsyncIterator[str]:
        """Async :meth:`iter`: yield spoken deltas as chunks arrive, then set :attr:`result`."""
        async for chunk in chunks:
            delta = self.feed(chunk)
            if delta:
                yield delta
        tail = self._flush()
        if tail:
            yield tail
        self.finish()
