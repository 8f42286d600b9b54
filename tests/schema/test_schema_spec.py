"""Schema definition checks, generated pydantic model and OpenAI JSON Schema."""

import dataclasses
import re
from typing import Any

import pytest
from pydantic import ValidationError

from agents_config.schema import (
    DEMO_FIELDS,
    FieldSpec,
    SchemaDefinitionError,
    SchemaIssue,
    check_field_name,
    compile_schema,
    fields_checksum,
)

SPOKEN = FieldSpec("reply", "str", spoken=True)


def issues_of(*fields: FieldSpec) -> list[SchemaIssue]:
    with pytest.raises(SchemaDefinitionError) as info:
        compile_schema(fields)
    return info.value.issues


def one_issue(field: FieldSpec) -> SchemaIssue:
    """Compile ``field`` next to a valid spoken field and return its single issue."""
    (issue,) = issues_of(SPOKEN, field)
    return issue


# --- field names -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "credibility_score", "x1", "A_b", "n" * 64, "match"])
def test_valid_field_names(name: str) -> None:
    check_field_name(name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "required"),
        ("n" * 65, "at most 64"),
        ("1abc", "identifier"),
        ("has-dash", "identifier"),
        ("has space", "identifier"),
        ("café", "identifier"),
        ("class", "keyword"),
        ("None", "keyword"),
        ("_private", "'_'"),
        ("__dunder__", "'_'"),
        ("model_config", "reserved"),
        ("model_anything", "reserved"),
        ("json", "reserved"),
        ("copy", "reserved"),
    ],
)
def test_invalid_field_names(name: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        check_field_name(name)
    issue = one_issue(FieldSpec(name, "int", required=False))
    assert issue.loc == (1, "field_name")


def test_duplicate_field_names() -> None:
    issue = one_issue(FieldSpec("reply", "int", required=False))
    assert issue == SchemaIssue((1, "field_name"), "duplicate field name 'reply'")


# --- types and constraints ---------------------------------------------------------------


def test_bad_type_is_reported_with_position() -> None:
    issue = one_issue(FieldSpec("x", "list[   ]", required=False))
    assert issue == SchemaIssue((1, "field_type"), "expected a type name at character 8")


@pytest.mark.parametrize(
    ("type_", "constraints"),
    [
        ("int", {"ge": 1, "le": 10}),
        ("int", {"gt": 0, "lt": 15, "multiple_of": 2}),
        ("float", {"gt": 0, "lt": 1.5, "multiple_of": 2}),
        ("float", {"ge": -1.5, "le": -1.5}),
        ("float", {"multiple_of": 0.25}),
        ("str", {"min_length": 0, "max_length": 5, "pattern": r"^[a-z]+$"}),
        ("list[int]", {"min_length": 1, "max_length": 1}),
        ("list[Literal['a', 'b']]", {"max_length": 2}),
    ],
)
def test_allowed_constraints(type_: str, constraints: dict[str, Any]) -> None:
    compiled = compile_schema([SPOKEN, FieldSpec("x", type_, constraints=constraints)])
    assert compiled.fields[1].constraints == constraints


@pytest.mark.parametrize(
    ("type_", "constraints", "loc", "fragment"),
    [
        ("int", {"min_length": 1}, ("min_length",), "unknown constraint for int"),
        ("int", {"ge": True}, ("ge",), "finite number"),
        ("int", {"ge": "1"}, ("ge",), "finite number"),
        ("float", {"le": float("nan")}, ("le",), "finite number"),
        ("float", {"lt": float("inf")}, ("lt",), "finite number"),
        ("int", {"multiple_of": 0}, ("multiple_of",), "greater than 0"),
        ("int", {"le": 1.5}, ("le",), "must be an integer"),
        ("int", {"ge": 5, "le": 4}, ("le",), "conflicts with ge=5"),
        ("int", {"gt": 5, "lt": 5}, ("lt",), "conflicts with gt=5"),
        ("int", {"ge": 5, "lt": 5}, ("lt",), "conflicts"),
        ("float", {"gt": 1, "le": 1}, ("le",), "conflicts"),
        ("str", {"ge": 1}, ("ge",), "unknown constraint for str"),
        ("str", {"min_length": -1}, ("min_length",), "non-negative integer"),
        ("str", {"max_length": 2.0}, ("max_length",), "non-negative integer"),
        ("str", {"max_length": False}, ("max_length",), "non-negative integer"),
        ("str", {"min_length": 3, "max_length": 2}, ("max_length",), "less than min_length"),
        ("str", {"pattern": "("}, ("pattern",), "invalid regular expression"),
        ("str", {"pattern": 5}, ("pattern",), "regular expression string"),
        ("str", {"pattern": "a" * 501}, ("pattern",), "at most 500"),
        ("list[str]", {"pattern": "a"}, ("pattern",), "unknown constraint for list"),
        ("list[str]", {"min_length": 2, "max_length": 1}, ("max_length",), "min_length"),
        ("bool", {"ge": 1}, ("ge",), "supported: none"),
        ("dict", {"max_length": 1}, ("max_length",), "supported: none"),
        ("Literal['a']", {"min_length": 1}, ("min_length",), "supported: none"),
        ("int", {"bogus": 1}, ("bogus",), "unknown constraint"),
        ("int", ["ge"], (), "mapping"),
    ],
)
def test_rejected_constraints(
    type_: str, constraints: Any, loc: tuple[str, ...], fragment: str
) -> None:
    issue = one_issue(FieldSpec("x", type_, required=False, constraints=constraints))
    assert issue.loc == (1, "constraints", *loc)
    assert fragment in issue.message


# --- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "constraints", "default"),
    [
        ("int", {"ge": 1, "le": 10}, 5),
        ("float", {}, 1),
        ("str", {"max_length": 3}, "abc"),
        ("bool", {}, False),
        ("list[str]", {}, []),
        ("Literal['a', 'b']", {}, "b"),
        ("dict", {}, {"k": [1, 2]}),
    ],
)
def test_valid_defaults(type_: str, constraints: dict[str, Any], default: Any) -> None:
    compiled = compile_schema(
        [SPOKEN, FieldSpec("x", type_, required=False, default=default, constraints=constraints)]
    )
    assert compiled.validate_output({"reply": "hi"}).data["x"] == default


@pytest.mark.parametrize(
    ("type_", "constraints", "default", "fragment"),
    [
        ("int", {"ge": 1, "le": 10}, 11, "default: Input should be less than or equal to 10"),
        ("int", {}, "many", "default: Input should be a valid integer"),
        ("str", {"pattern": "^a"}, "b", "default: String should match pattern"),
        ("list[str]", {"max_length": 1}, ["a", "b"], "default: List should have at most 1"),
        ("list[int]", {}, [1, "x"], "default.1: Input should be a valid integer"),
        ("Literal['a', 'b']", {}, "c", "default: Input should be 'a' or 'b'"),
        ("Literal[1]", {}, True, "default: Input should be 1"),
        ("bool", {}, "maybe", "default: Input should be a valid boolean"),
        ("dict", {}, {"k": {1, 2}}, "JSON-serializable"),
    ],
)
def test_invalid_defaults(
    type_: str, constraints: dict[str, Any], default: Any, fragment: str
) -> None:
    field = FieldSpec("x", type_, required=False, default=default, constraints=constraints)
    issue = one_issue(field)
    assert issue.loc == (1, "default")
    assert fragment in issue.message


def test_required_field_cannot_have_default() -> None:
    issue = one_issue(FieldSpec("x", "int", default=3))
    assert issue.loc == (1, "default")


# --- flags -------------------------------------------------------------------------------


def test_exactly_one_spoken_field() -> None:
    assert issues_of(FieldSpec("a", "str")) == [
        SchemaIssue((), "exactly one spoken field is required")
    ]
    (issue,) = issues_of(SPOKEN, FieldSpec("b", "str", spoken=True))
    assert issue.loc == () and "found 2 (reply, b)" in issue.message


def test_spoken_field_rules() -> None:
    issues = issues_of(SPOKEN, FieldSpec("a", "int", spoken=True))
    assert [i.loc for i in issues] == [(1, "metadata"), ()]
    issues = issues_of(FieldSpec("a", "int", spoken=True, required=False, hidden=True))
    assert {(i.loc, i.message) for i in issues} == {
        ((0, "metadata"), "the spoken field cannot be hidden"),
        ((0, "metadata"), "the spoken field must have type str"),
        ((0, "required"), "the spoken field must be required"),
    }
    issues = issues_of(FieldSpec("a", "str", spoken=True, tts_instructions=True))
    assert issues == [
        SchemaIssue((0, "metadata"), "the spoken field cannot also hold TTS instructions")
    ]


def test_tts_instructions_rules() -> None:
    issue = one_issue(FieldSpec("v", "int", tts_instructions=True, required=False))
    assert issue == SchemaIssue((1, "metadata"), "the tts_instructions field must have type str")
    (issue,) = issues_of(
        SPOKEN,
        FieldSpec("v", "str", tts_instructions=True),
        FieldSpec("w", "str", tts_instructions=True),
    )
    assert issue.loc == () and "at most one tts_instructions" in issue.message


def test_all_issues_are_collected() -> None:
    with pytest.raises(SchemaDefinitionError) as info:
        compile_schema(
            [
                FieldSpec("1x", "int"),
                FieldSpec("ok", "lisst[str]"),
                FieldSpec("c", "int", constraints={"ge": "a", "foo": 1}),
                FieldSpec("d", "int", required=False, default="x"),
            ]
        )
    locs = [issue.loc for issue in info.value.issues]
    assert locs == [
        (0, "field_name"),
        (1, "field_type"),
        (2, "constraints", "ge"),
        (2, "constraints", "foo"),
        (3, "default"),
        (),
    ]
    assert "0.field_name:" in str(info.value)


def test_too_many_fields() -> None:
    fields = [SPOKEN, *(FieldSpec(f"f{i}", "int", required=False) for i in range(100))]
    assert issues_of(*fields) == [SchemaIssue((), "at most 100 fields are allowed")]


# --- compiled schema ---------------------------------------------------------------------


@pytest.fixture
def demo():
    return compile_schema(DEMO_FIELDS)


def test_demo_metadata(demo) -> None:
    assert demo.spoken_field == "system_response"
    assert demo.tts_instructions_field == "voice_instructions"
    assert demo.hidden_fields == frozenset({"internal_assessment"})
    assert demo.fields == DEMO_FIELDS
    assert len(demo.checksum) == 64


def test_model_has_descriptions_constraints_and_defaults(demo) -> None:
    model = demo.model
    assert model.__name__ == "AgentTurn"
    fields = model.model_fields
    assert fields["system_response"].is_required()
    assert fields["system_response"].description == DEMO_FIELDS[1].description
    assert fields["red_flags"].default == []
    assert fields["credibility_score"].default is None
    turn = model(system_response="Hello", credibility_score=3, interview_stage="final_decision")
    assert turn.red_flags == []
    with pytest.raises(ValidationError):
        model(system_response="Hello", credibility_score=11)
    with pytest.raises(ValidationError):
        model(system_response="Hello", interview_stage="lunch")
    with pytest.raises(ValidationError):
        model(credibility_score=3)
    assert model(system_response="x", credibility_score=None).credibility_score is None


def test_model_decodes_dict_strings_and_checks_patterns() -> None:
    compiled = compile_schema(
        [
            SPOKEN,
            FieldSpec("meta", "dict", required=False),
            FieldSpec("code", "str", required=False, constraints={"pattern": r"^[A-Z]\w+$"}),
        ]
    )
    turn = compiled.model.model_validate_json('{"reply": "x", "meta": "{\\"a\\": [1]}"}')
    assert turn.meta == {"a": [1]}  # type: ignore[attr-defined]
    assert compiled.model(reply="x", code="Abc").code == "Abc"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        compiled.model(reply="x", code="abc")


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"^(?=A)\w+$", "look-around"),
        (r"(a)\1", "backreferences"),
        ("(?:a{1000}){1000}", "size limit"),
    ],
)
def test_patterns_must_be_linear_time(pattern: str, fragment: str) -> None:
    """Patterns that need backtracking (ReDoS risk on model output) are refused up front."""
    field = FieldSpec("code", "str", required=False, constraints={"pattern": pattern})
    issue = one_issue(field)
    assert issue.loc == (1, "constraints", "pattern")
    assert fragment in issue.message


def test_json_schema_shape(demo) -> None:
    schema = demo.json_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == [
        "voice_instructions",
        "system_response",
        "internal_assessment",
        "interview_stage",
        "credibility_score",
        "red_flags",
    ]
    assert schema["required"] == list(schema["properties"])
    assert list(demo.property_order) == schema["required"]
    props = schema["properties"]
    assert props["system_response"]["type"] == "string"
    assert props["voice_instructions"]["type"] == ["string", "null"]
    assert props["credibility_score"] == {
        "type": ["integer", "null"],
        "description": DEMO_FIELDS[4].description,
        "minimum": 1,
        "maximum": 10,
    }
    assert props["interview_stage"]["enum"][-1] is None
    assert props["interview_stage"]["enum"][0] == "document_check"
    assert props["red_flags"]["type"] == ["array", "null"]
    assert props["red_flags"]["items"] == {"type": "string"}
    for prop in props.values():
        assert "default" not in prop and "title" not in prop
        assert prop["description"]


def test_response_format(demo) -> None:
    assert demo.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "AgentTurn", "strict": True, "schema": demo.json_schema},
    }
    named = compile_schema(DEMO_FIELDS, name="visa officer (demo) " + "x" * 80)
    name = named.response_format["json_schema"]["name"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name)


def test_speech_first_order_without_tts_field() -> None:
    compiled = compile_schema(
        [FieldSpec("a", "int", required=False), FieldSpec("b", "str"), SPOKEN]
    )
    assert compiled.property_order == ("reply", "a", "b")
    assert compiled.tts_instructions_field is None


def test_json_schema_for_every_type() -> None:
    compiled = compile_schema(
        [
            SPOKEN,
            FieldSpec("f", "float", constraints={"gt": 0, "lt": 1, "multiple_of": 0.5}),
            FieldSpec("b", "bool", required=False),
            FieldSpec("d", "dict", description="Extra data."),
            FieldSpec("s", "str", required=False, constraints={"min_length": 1, "pattern": "^x"}),
            FieldSpec(
                "l", "list[Literal[1, 'a', True]]", constraints={"min_length": 1, "max_length": 3}
            ),
            FieldSpec("m", "Literal[1, 2]", required=False),
        ]
    )
    props = compiled.json_schema["properties"]
    assert props["f"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 1,
        "multipleOf": 0.5,
    }
    assert props["b"] == {"type": ["boolean", "null"]}
    assert props["d"]["type"] == "string"
    assert props["d"]["description"].startswith("Extra data. Write the value as a JSON object")
    assert props["s"] == {"type": ["string", "null"], "minLength": 1, "pattern": "^x"}
    assert props["l"] == {
        "type": "array",
        "items": {"type": ["integer", "string", "boolean"], "enum": [1, "a", True]},
        "minItems": 1,
        "maxItems": 3,
    }
    assert props["m"] == {"type": ["integer", "null"], "enum": [1, 2, None]}


def test_checksum_is_content_based() -> None:
    assert fields_checksum(DEMO_FIELDS) == fields_checksum(list(DEMO_FIELDS))
    changed = dataclasses.replace(DEMO_FIELDS[4], constraints={"ge": 1, "le": 5})
    other = (*DEMO_FIELDS[:4], changed, DEMO_FIELDS[5])
    assert fields_checksum(other) != fields_checksum(DEMO_FIELDS)
    assert compile_schema(other).checksum == fields_checksum(other)


def test_strip_hidden(demo) -> None:
    data = demo.validate_output({"system_response": "Hi", "internal_assessment": "nervous"}).data
    assert "internal_assessment" in data
    visible = demo.strip_hidden(data)
    assert "internal_assessment" not in visible
    assert visible["system_response"] == "Hi"


def test_package_imports_without_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agents_config.schema; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=_repo_root())


def _repo_root() -> str:
    import pathlib

    return str(pathlib.Path(__file__).resolve().parents[2])
