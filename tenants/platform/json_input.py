"""Limits on JSON that comes from outside: nesting depth, numbers, strings.

Every entry point that accepts JSON (the API parser, the admin's import page and JSON fields,
management commands, session ``user_details``/``overrides``, configuration documents through
``agents_config.contracts``) goes through :func:`loads` or :func:`check_value`, so hostile input
is a 400 naming the offending path instead of a ``RecursionError`` or a value PostgreSQL's jsonb
refuses (``NaN``/``Infinity``, lone UTF-16 surrogates, ``U+0000``).

Python's ``json`` module recurses per nesting level, so :func:`loads` measures the depth on the
raw text first (iteratively, stopping at the first bracket past the limit) and only then parses.
This module imports nothing from the project, so any layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

JSON_MAX_DEPTH = 64
"""Deepest nesting of arrays/objects accepted anywhere (a scalar at the top is depth 0)."""

DEPTH_MESSAGE = f"JSON is nested more than {JSON_MAX_DEPTH} levels deep (the limit)."
NON_FINITE_MESSAGE = "Numbers must be finite (NaN and Infinity are not JSON)."
SURROGATE_MESSAGE = "Text contains a lone UTF-16 surrogate (not valid Unicode)."
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."

# A JSON string literal, or one bracket outside strings: enough to measure the depth.
_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJSON(ValueError):
    """JSON the platform refuses; ``errors`` maps a path (``""`` = the whole value) to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{p or 'document'}: {' '.join(m)}" for p, m in errors.items()))


def exceeds_depth(text: str, limit: int = JSON_MAX_DEPTH) -> bool:
    """True if the JSON text opens more than ``limit`` nested arrays/objects (no parsing)."""
    depth = 0
    for token in _DEPTH_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads(text: str | bytes, *, prefix: str = "") -> Any:
    """Parse JSON text within the limits; ``UnsafeJSON`` for too deep or unstorable values,
    ``ValueError`` (``json.JSONDecodeError``) for text that is not JSON."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if exceeds_depth(text):
        raise UnsafeJSON({prefix: [DEPTH_MESSAGE]})
    value = json.loads(text)
    check_value(value, prefix=prefix)
    return value


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def _printable(key: str) -> str:
    """A key safe to put in an error path (and the JSON error response) itself."""
    return _SURROGATE.sub("\ufffd", key.replace("\x00", "\ufffd"))


def check_value(value: Any, *, prefix: str = "", max_depth: int = JSON_MAX_DEPTH) -> None:
    """Refuse a parsed value nested deeper than ``max_depth`` or holding a non-finite number,
    a lone surrogate or NUL (in a key or a value); iterative, so any depth is safe to check."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(value, prefix, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                errors.setdefault(path, []).append(DEPTH_MESSAGE)
                continue
            if isinstance(item, dict):
                for key, child in item.items():
                    key_text = str(key)
                    child_path = _join(path, _printable(key_text))
                    problem = _text_problem(key_text)
                    if problem:
                        errors.setdefault(child_path, []).append(f"Key: {problem}")
                    stack.append((child, child_path, depth + 1))
            else:
                for index, child in enumerate(item):
                    if isinstance(child, str) and "\x00" not in child and child.isascii():
                        continue  # the common case, without a trip through the stack
                    stack.append((child, f"{path}[{index}]", depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            errors.setdefault(path, []).append(NON_FINITE_MESSAGE)
        elif isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                errors.setdefault(path, []).append(problem)
        if len(errors) >= 20:  # enough to act on; do not build a huge error body
            break
    if errors:
        raise UnsafeJSON(dict(sorted(errors.items())))
