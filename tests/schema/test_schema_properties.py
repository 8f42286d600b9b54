"""Property-based tests: random schemas, random valid documents, random serialisation/chunking.

Whatever the schema, JSON formatting and chunk boundaries, the extractor must yield exactly the
spoken value and ``finish()`` must return exactly the document.
"""

import itertools
import json
import keyword
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents_config.schema import CompiledSchema, FieldSpec, TypeSpec, compile_schema
from agents_config.schema.spec import MAX_FIELD_NAME_LENGTH, check_field_name

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Full unicode (minus surrogates, which JSON text cannot carry), biased towards the characters
# JSON has to escape.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\x7f\u2028é😀🇫🇷\U0010ffff '),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
LITERAL_VALUE = st.one_of(TEXT.map(lambda s: s[:10]), st.integers(-1000, 1000), st.booleans())
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False), TEXT
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _name_ok(name: str) -> bool:
    try:
        check_field_name(name)
    except ValueError:
        return False
    return True


NAME = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(_name_ok)


@st.composite
def literal_specs(draw: st.DrawFn) -> TypeSpec:
    choices = draw(
        st.lists(LITERAL_VALUE, min_size=1, max_size=5, unique_by=lambda v: (type(v), v))
    )
    return TypeSpec("literal", choices=tuple(choices))


ITEM_SPEC = st.one_of(
    st.sampled_from([TypeSpec(k) for k in ("str", "int", "float", "bool")]), literal_specs()
)
TYPE_SPEC = st.one_of(
    ITEM_SPEC, st.just(TypeSpec("dict")), ITEM_SPEC.map(lambda item: TypeSpec("list", item=item))
)


@st.composite
def constraints_for(draw: st.DrawFn, spec: TypeSpec) -> dict[str, Any]:
    if spec.kind in ("int", "float") and draw(st.booleans()):
        number = st.integers(-100, 100) if spec.kind == "int" else st.floats(-100, 100)
        low, high = sorted([draw(number), draw(number)])
        return {"ge": low, "le": high}
    if spec.kind in ("str", "list") and draw(st.booleans()):
        low = draw(st.integers(0, 3))
        return {"min_length": low, "max_length": low + draw(st.integers(0, 5))}
    return {}


def values_for(spec: TypeSpec, constraints: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid Python values of ``spec`` under ``constraints``."""
    if spec.kind == "int":
        return st.integers(constraints.get("ge", -(2**53)), constraints.get("le", 2**53))
    if spec.kind == "float":
        return st.floats(
            constraints.get("ge"), constraints.get("le"), allow_nan=False, allow_infinity=False
        )
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "literal":
        return st.sampled_from(spec.choices)
    if spec.kind == "dict":
        return st.dictionaries(TEXT, JSON_VALUE, max_size=4)
    low, high = constraints.get("min_length", 0), constraints.get("max_length", 5)
    if spec.kind == "str":
        return st.text(
            TEXT.filter(lambda s: len(s) == 1) | st.characters(codec="utf-8"),
            min_size=low,
            max_size=high,
        ) | TEXT.filter(lambda s: low <= len(s) <= high)
    assert spec.item is not None
    return st.lists(values_for(spec.item, {}), min_size=low, max_size=high)


@dataclass
class Case:
    schema: CompiledSchema
    document: dict[str, Any]  # what the model sends (dicts maybe JSON-encoded)
    expected: dict[str, Any]  # what validation must return


@st.composite
def cases(draw: st.DrawFn) -> Case:
    names = draw(st.lists(NAME, min_size=1, max_size=7, unique=True))
    spoken = draw(st.sampled_from(names))
    tts = draw(st.sampled_from([None, *[n for n in names if n != spoken]]))
    fields, document, expected = [], {}, {}
    for name in names:
        spec = TypeSpec("str") if name in (spoken, tts) else draw(TYPE_SPEC)
        constraints = draw(constraints_for(spec))
        values = values_for(spec, constraints)
        required = name == spoken or draw(st.booleans())
        default = None if required or not draw(st.booleans()) else draw(values)
        fields.append(
            FieldSpec(
                name,
                str(spec),
                description=draw(TEXT),
                required=required,
                default=default,
                constraints=constraints,
                spoken=name == spoken,
                tts_instructions=name == tts,
                hidden=name not in (spoken, tts) and draw(st.booleans()),
            )
        )
        presence = "value" if required else draw(st.sampled_from(["value", "null", "missing"]))
        if presence == "value":
            value = draw(values)
            expected[name] = value
            if spec.kind == "dict" and draw(st.booleans()):
                value = json.dumps(value, ensure_ascii=draw(st.booleans()))
            document[name] = value
        else:
            expected[name] = default
            if presence == "null":
                document[name] = None
    order = draw(st.permutations(list(document)))
    return Case(compile_schema(fields), {k: document[k] for k in order}, expected)


@st.composite
def serialised(draw: st.DrawFn, document: dict[str, Any]) -> str:
    text = json.dumps(
        document,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2, "\t"])),
        separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])),
    )
    prefix = draw(st.sampled_from(["", " ", "\n\t ", "```json\n", "```\n  "]))
    suffix = "\n```" if prefix.startswith("```") else draw(st.sampled_from(["", " \n"]))
    return prefix + text + suffix


def cut(draw: st.DrawFn, text: str) -> list[str]:
    points = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=40)))
    bounds = [0, *[p for p in points if p < len(text)], len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@SETTINGS
@given(cases(), st.data())
def test_streamed_turn_round_trips(case: Case, data: st.DataObject) -> None:
    raw = data.draw(serialised(case.document))
    chunks = list(raw) if data.draw(st.booleans()) else cut(data.draw, raw)
    seen: list[str] = []
    extractor = case.schema.extractor(on_tts_instructions=seen.append)
    deltas = list(extractor.iter(chunks))
    result = extractor.result
    assert result is not None
    spoken = case.schema.spoken_field
    assert "".join(deltas) == case.document[spoken] == result.spoken_text
    assert result.errors == []
    assert result.data == case.expected
    assert result.is_structured
    tts = case.schema.tts_instructions_field
    if tts is not None and isinstance(case.document.get(tts), str):
        assert seen == [case.document[tts]]
    else:
        assert seen == []


@SETTINGS
@given(cases())
def test_validate_output_accepts_generated_documents(case: Case) -> None:
    result = case.schema.validate_output(case.document)
    assert result.ok, result.errors
    assert result.data == case.expected
    visible = case.schema.strip_hidden(result.data)
    assert set(visible) == set(result.data) - case.schema.hidden_fields


@SETTINGS
@given(cases())
def test_json_schema_is_strict(case: Case) -> None:
    schema = case.schema.json_schema
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"]) == list(case.schema.property_order)
    assert schema["required"][0] == (case.schema.tts_instructions_field or case.schema.spoken_field)
    for field in case.schema.fields:
        prop_type = schema["properties"][field.name]["type"]
        assert ("null" in prop_type) is (not field.required)


@SETTINGS
@given(
    TEXT.filter(lambda s: s.strip() and s.strip()[0] not in "{`"),
    st.data(),
)
def test_plain_text_streams_verbatim(text: str, data: st.DataObject) -> None:
    schema = compile_schema([FieldSpec("say", "str", spoken=True)])
    extractor = schema.extractor()
    deltas = list(extractor.iter(cut(data.draw, text)))
    assert "".join(deltas) == text.strip()
    assert extractor.result is not None
    assert extractor.result.data == {"say": text.strip()}
    assert not extractor.result.is_structured


@SETTINGS
@given(TYPE_SPEC)
def test_type_specs_round_trip_through_text(spec: TypeSpec) -> None:
    from agents_config.schema import parse_field_type

    assert parse_field_type(str(spec)) == spec


def test_name_strategy_is_sane() -> None:
    assert not _name_ok("class") and keyword.iskeyword("class")
    assert _name_ok("a" * MAX_FIELD_NAME_LENGTH)
