"""Safe prompt templating: ``{{ name }}`` placeholders only.

No attribute access, filters, calls or code: a placeholder is an identifier and nothing else,
and substituted values are never rendered again (no template injection through user details).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
"""THE name format of template variables and schema fields (contracts and API import it)."""
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


#: The one session override that is merged rather than replaced: values of declared variables.
DYNAMIC_VARS_OVERRIDE = "prompt_config.dynamic_vars"


def session_variables(
    declared: Mapping[str, object],
    *,
    user_details: Mapping[str, object] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """THE precedence of template values: declared defaults ← the session's user details ←
    its ``prompt_config.dynamic_vars`` override. Only declared variables are taken from
    either source, and only JSON scalars (never a structure to render)."""
    section = (overrides or {}).get("prompt_config") or {}
    override_vars = section.get("dynamic_vars") if isinstance(section, Mapping) else None
    values = dict(declared)
    for source in (user_details or {}, override_vars if isinstance(override_vars, Mapping) else {}):
        for name, value in source.items():
            if name in declared and (value is None or isinstance(value, str | int | float | bool)):
                values[name] = value
    return values


class TemplateError(ValueError):
    """A malformed placeholder; the message names it and its character offset."""


def template_variables(text: str) -> list[str]:
    """Variable names used in ``text``, in first-use order."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1).strip()
        if not _IDENTIFIER.match(name):
            raise TemplateError(
                f"invalid placeholder {match.group(0)!r} at character {match.start()}: only "
                "{{ name }} with a plain variable name is allowed (no attributes, calls or filters)"
            )
        if name not in names:
            names.append(name)
    remainder = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)
    unclosed = remainder.find("{{")
    if unclosed != -1:
        raise TemplateError(f"unclosed placeholder '{{{{' at character {unclosed}")
    return names


def render_template(text: str, values: Mapping[str, object]) -> str:
    """Substitute placeholders once; unknown names render as empty strings."""

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1).strip())
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(substitute, text)
