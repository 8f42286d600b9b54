"""JSON Schema generation for OpenAI strict structured outputs.

Strict mode demands that every property is listed in ``required`` and every object has
``additionalProperties: false``; optional fields are therefore expressed as *nullable*
instead of omittable. Only keywords strict mode accepts are emitted (no ``default``/``title``).

``dict`` fields are sent as a **string holding a JSON object**: a free-form object cannot be
described in strict mode (it would need ``additionalProperties: false`` and therefore no keys),
while a JSON string round-trips any object. ``validate_output`` decodes the string back into a
``dict`` (and also accepts a real object when one is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .grammar import TypeSpec

DICT_FORMAT_HINT = 'Write the value as a JSON object encoded in a string, e.g. "{\\"key\\": 1}".'

_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_NUMBER_KEYWORDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
    "multiple_of": "multipleOf",
}
_STRING_KEYWORDS = {"min_length": "minLength", "max_length": "maxLength", "pattern": "pattern"}
_ARRAY_KEYWORDS = {"min_length": "minItems", "max_length": "maxItems"}


def _literal_types(choices: tuple[str | int | bool, ...]) -> list[str]:
    types: list[str] = []
    for choice in choices:
        name = "boolean" if isinstance(choice, bool) else _JSON_TYPES[type(choice).__name__]
        if name not in types:
            types.append(name)
    return types


def _value_schema(spec: TypeSpec, *, nullable: bool) -> dict[str, Any]:
    """Schema of one value of ``spec``; ``nullable`` adds ``null`` to its type (and enum)."""
    if spec.kind == "literal":
        types = _literal_types(spec.choices)
        enum: list[Any] = list(spec.choices)
        if nullable:
            types.append("null")
            enum.append(None)
        return {"type": types[0] if len(types) == 1 else types, "enum": enum}
    if spec.kind == "list":
        assert spec.item is not None
        items = _value_schema(spec.item, nullable=False)
        return {"type": ["array", "null"] if nullable else "array", "items": items}
    json_type = "string" if spec.kind == "dict" else _JSON_TYPES[spec.kind]
    return {"type": [json_type, "null"] if nullable else json_type}


def property_schema(
    spec: TypeSpec, *, description: str, constraints: Mapping[str, Any], nullable: bool
) -> dict[str, Any]:
    """Full property schema: type, description and the constraints as JSON Schema keywords."""
    schema = _value_schema(spec, nullable=nullable)
    if spec.kind == "dict":
        description = f"{description} {DICT_FORMAT_HINT}".strip()
    if description:
        schema["description"] = description
    keywords = {"list": _ARRAY_KEYWORDS, "str": _STRING_KEYWORDS}.get(spec.kind, _NUMBER_KEYWORDS)
    for key, value in constraints.items():
        schema[keywords[key]] = value
    return schema


def object_schema(properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Root object: every property required, in the (speech-first) order given."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
