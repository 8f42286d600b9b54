"""The one place user-supplied regular expressions are compiled and matched.

Test-case expectations (``matches``) and schema ``pattern`` constraints are written by tenants
and run on text a model produced, so they run on RE2 (``google-re2``): matching is linear in
the subject whatever the pattern (``(a|a)*b`` or ``((a+))+b`` cannot pin a worker). RE2 has no
look-around and no backreferences; such patterns are refused with a message naming the
syntax. Patterns are at most ``MAX_PATTERN_LENGTH`` characters and are matched against at most
``MAX_SUBJECT_LENGTH`` characters.
"""

from __future__ import annotations

import functools
import re

import re2

MAX_PATTERN_LENGTH = 500
MAX_SUBJECT_LENGTH = 10_000
MAX_PROGRAM_BYTES = 1 << 20
"""Memory RE2 may use for one compiled pattern; bigger programs are refused (size limit)."""

ENGINE = "RE2, a linear-time engine"

_LOOK_AROUND = ("(?=", "(?!", "(?<=", "(?<!")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\\k<|\\g")


class UserRegexError(ValueError):
    """The pattern is refused; the message says why (syntax, size or length)."""


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    return options


def _explain(pattern: str, detail: str) -> str:
    if any(token in pattern for token in _LOOK_AROUND) and "perl operator" in detail:
        return f"look-around such as (?=...) or (?<!...) is not supported ({ENGINE})"
    if _BACKREFERENCE.search(pattern) and ("escape" in detail or "perl operator" in detail):
        return f"backreferences such as \\1 or (?P=name) are not supported ({ENGINE})"
    if "repetition size" in detail or "too large" in detail or "pattern too big" in detail:
        return f"the pattern exceeds the size limit of {ENGINE} ({detail})"
    if "perl operator" in detail or "escape sequence" in detail:
        return f"unsupported regular expression syntax: {detail} ({ENGINE})"
    return f"invalid regular expression: {detail}"


def compile_user_regex(pattern: str) -> re2._Regexp:
    """The compiled pattern, or ``UserRegexError`` saying what is wrong with it."""
    if not isinstance(pattern, str):
        raise UserRegexError("must be a regular expression string")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UserRegexError(f"must be at most {MAX_PATTERN_LENGTH} characters")
    return _compile(pattern)


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else str(exc)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise UserRegexError(_explain(pattern, str(detail))) from None


def user_regex_search(pattern: str, subject: str) -> bool:
    """True if ``pattern`` occurs in the first ``MAX_SUBJECT_LENGTH`` characters of
    ``subject`` (``re.search`` semantics)."""
    return compile_user_regex(pattern).search(subject[:MAX_SUBJECT_LENGTH]) is not None
