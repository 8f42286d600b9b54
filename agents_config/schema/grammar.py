"""Hand-written parser for ``field_type`` strings.

Field types come from tenant admins, so they are parsed by a tiny recursive-descent parser
over a fixed grammar instead of ``eval``/``literal_eval``::

    type     := scalar | "list" "[" item "]" | literal
    scalar   := "str" | "int" | "float" | "bool" | "dict"
    item     := "str" | "int" | "float" | "bool" | literal
    literal  := "Literal" "[" value ("," value)* [","] "]"
    value    := quoted string | integer | "True" | "False"

The grammar nests at most two levels (``list[Literal[...]]``), so recursion depth is bounded
no matter what the input is, and the input length is capped before any parsing happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

MAX_TYPE_LENGTH = 2000
"""Longest accepted ``field_type`` text; checked before parsing so huge inputs fail fast."""

TypeKind = Literal["str", "int", "float", "bool", "dict", "list", "literal"]
LiteralValue = str | int | bool

_SCALARS: dict[str, TypeKind] = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "dict": "dict",
}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?![A-Za-z0-9_.])")
_WS_RE = re.compile(r"[ \t\r\n]*")
_STRING_RUN_RE = re.compile(r"[^'\"\\\n\r]+")
_HEX4_RE = re.compile(r"[0-9A-Fa-f]{4}")
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


class FieldTypeError(ValueError):
    """A ``field_type`` string that does not follow the grammar.

    ``position`` is the 0-based character index where parsing stopped.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at character {position}")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class TypeSpec:
    """Parsed field type; ``str(spec)`` is the canonical spelling."""

    kind: TypeKind
    item: TypeSpec | None = None
    choices: tuple[LiteralValue, ...] = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list[{self.item}]"
        if self.kind == "literal":
            return "Literal[" + ", ".join(_format_literal(c) for c in self.choices) + "]"
        return self.kind

    def python_type(self) -> Any:
        """The matching Python annotation (``list[Literal['a']]``, ``dict[str, Any]``...)."""
        if self.kind == "list":
            assert self.item is not None
            return list[self.item.python_type()]  # type: ignore[misc]
        if self.kind == "literal":
            return Literal.__getitem__(self.choices)  # type: ignore[attr-defined]
        if self.kind == "dict":
            return dict[str, Any]
        return {"str": str, "int": int, "float": float, "bool": bool}[self.kind]


def _format_literal(value: LiteralValue) -> str:
    if isinstance(value, int):  # includes bool
        return repr(value)
    out = []
    for ch in value:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) < 0xE000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def parse_field_type(text: str) -> TypeSpec:
    """Parse ``text`` into a :class:`TypeSpec` or raise :class:`FieldTypeError`."""
    if not isinstance(text, str):
        raise FieldTypeError("expected the field type as text", 0)
    if len(text) > MAX_TYPE_LENGTH:
        raise FieldTypeError(
            f"field type is too long ({len(text)} characters, at most {MAX_TYPE_LENGTH})",
            MAX_TYPE_LENGTH,
        )
    parser = _Parser(text)
    spec = parser.parse_type(allow_list=True, allow_dict=True)
    parser.skip_ws()
    if parser.pos != len(text):
        raise FieldTypeError("expected end of type", parser.pos)
    return spec


class _Parser:
    """Single-use cursor over the type text; every method advances ``pos``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        self.pos = _WS_RE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def expect(self, char: str) -> None:
        self.skip_ws()
        if not self.text.startswith(char, self.pos):
            raise FieldTypeError(f"expected '{char}'", self.pos)
        self.pos += 1

    def parse_type(self, *, allow_list: bool, allow_dict: bool) -> TypeSpec:
        self.skip_ws()
        start = self.pos
        match = _NAME_RE.match(self.text, start)
        names = "str, int, float, bool" + (", dict, list[...]" if allow_list else "")
        if match is None:
            raise FieldTypeError("expected a type name", start)
        name = match.group()
        self.pos = match.end()
        if name == "Literal":
            return self.parse_literal()
        if name == "list" and allow_list:
            self.expect("[")
            item = self.parse_type(allow_list=False, allow_dict=False)
            self.expect("]")
            return TypeSpec("list", item=item)
        kind = _SCALARS.get(name)
        if kind is None or (kind == "dict" and not allow_dict):
            where = "" if allow_list else " as a list item"
            raise FieldTypeError(
                f"unsupported type '{name}'{where}; expected {names} or Literal[...]", start
            )
        return TypeSpec(kind)

    def parse_literal(self) -> TypeSpec:
        self.expect("[")
        choices: list[LiteralValue] = []
        seen: set[tuple[type, LiteralValue]] = set()
        while True:
            self.skip_ws()
            if choices and self.text.startswith("]", self.pos):
                break  # trailing comma
            start = self.pos
            value = self.parse_value()
            key = (type(value), value)
            if key in seen:
                raise FieldTypeError(f"duplicate literal value {_format_literal(value)}", start)
            seen.add(key)
            choices.append(value)
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            break
        self.expect("]")
        return TypeSpec("literal", choices=tuple(choices))

    def parse_value(self) -> LiteralValue:
        text, pos = self.text, self.pos
        if text.startswith(("'", '"'), pos):
            return self.parse_string()
        match = _INT_RE.match(text, pos)
        if match is not None:
            self.pos = match.end()
            return int(match.group())
        match = _NAME_RE.match(text, pos)
        if match is not None and match.group() in ("True", "False"):
            self.pos = match.end()
            return match.group() == "True"
        raise FieldTypeError(
            "expected a literal value (a quoted string, an integer, True or False)", pos
        )

    def parse_string(self) -> str:
        text = self.text
        quote = text[self.pos]
        self.pos += 1
        out: list[str] = []
        while True:
            match = _STRING_RUN_RE.match(text, self.pos)
            if match is not None:
                out.append(match.group())
                self.pos = match.end()
            if self.pos >= len(text) or text[self.pos] in "\n\r":
                raise FieldTypeError("unterminated string", self.pos)
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char != "\\":  # the other quote kind
                out.append(char)
                self.pos += 1
                continue
            out.append(self.parse_escape())

    def parse_escape(self) -> str:
        text, start = self.text, self.pos
        code = text[start + 1 : start + 2]
        if code in _SIMPLE_ESCAPES:
            self.pos = start + 2
            return _SIMPLE_ESCAPES[code]
        if code != "u":
            raise FieldTypeError(
                "unsupported escape (use \\\\, \\', \\\", \\n, \\t, \\r or \\uXXXX)", start
            )
        point = self._hex4(start)
        self.pos = start + 6
        if 0xDC00 <= point < 0xE000:
            raise FieldTypeError("unpaired surrogate escape", start)
        if 0xD800 <= point < 0xDC00:
            low = self._hex4(self.pos) if text.startswith("\\u", self.pos) else -1
            if not 0xDC00 <= low < 0xE000:
                raise FieldTypeError("unpaired surrogate escape", start)
            self.pos += 6
            point = 0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00)
        return chr(point)

    def _hex4(self, start: int) -> int:
        match = _HEX4_RE.match(self.text, start + 2)
        if match is None:
            raise FieldTypeError("expected 4 hex digits after \\u", start + 2)
        return int(match.group(), 16)
