"""validate_output: per-field validation that never raises."""

import json

import pytest

from agents_config.schema import DEMO_FIELDS, FieldSpec, compile_schema

PLAIN = "model returned plain text instead of JSON"


@pytest.fixture(scope="module")
def demo():
    return compile_schema(DEMO_FIELDS)


VALID = {
    "voice_instructions": "Calm and formal.",
    "system_response": "Why did you choose this university?",
    "internal_assessment": "Documents look fine.",
    "interview_stage": "academic_assessment",
    "credibility_score": 7,
    "red_flags": ["vague study plan"],
}


@pytest.mark.parametrize(
    "raw",
    [
        VALID,
        json.dumps(VALID),
        json.dumps(VALID).encode(),
        "  \n" + json.dumps(VALID, indent=2) + "\n ",
        "```json\n" + json.dumps(VALID) + "\n```",
        "```\n" + json.dumps(VALID) + "```",
    ],
)
def test_valid_output(demo, raw) -> None:
    result = demo.validate_output(raw)
    assert result.ok, result.errors
    assert result.data == VALID


def test_optional_nulls_and_missing_get_defaults(demo) -> None:
    result = demo.validate_output(
        {"system_response": "Hi", "red_flags": None, "credibility_score": None}
    )
    assert result.ok
    assert result.data == {
        "voice_instructions": None,
        "system_response": "Hi",
        "internal_assessment": None,
        "interview_stage": None,
        "credibility_score": None,
        "red_flags": [],
    }


def test_defaults_are_not_shared(demo) -> None:
    first = demo.validate_output({"system_response": "Hi"}).data
    first["red_flags"].append("mutated")
    assert demo.validate_output({"system_response": "Hi"}).data["red_flags"] == []


def test_invalid_fields_keep_valid_ones(demo) -> None:
    result = demo.validate_output(
        {
            **VALID,
            "credibility_score": 11,
            "interview_stage": "lunch",
            "red_flags": ["ok", 3],
        }
    )
    assert not result.ok
    assert result.errors == [
        "interview_stage: Input should be 'document_check', 'background_inquiry', "
        "'academic_assessment', 'financial_review', 'intent_evaluation' or 'final_decision'",
        "credibility_score: Input should be less than or equal to 10",
        "red_flags.1: Input should be a valid string",
    ]
    assert result.data["credibility_score"] is None
    assert result.data["interview_stage"] is None
    assert result.data["red_flags"] == []
    assert result.data["system_response"] == VALID["system_response"]
    assert result.data["internal_assessment"] == VALID["internal_assessment"]


def test_missing_and_broken_spoken_field(demo) -> None:
    result = demo.validate_output({"credibility_score": 3})
    assert result.errors == ["system_response: Field required"]
    assert result.data["system_response"] == ""
    assert result.data["credibility_score"] == 3
    result = demo.validate_output({"system_response": None})
    assert result.errors == ["system_response: Input should be a valid string"]
    assert result.data["system_response"] == ""


def test_spoken_text_survives_constraint_errors() -> None:
    compiled = compile_schema([FieldSpec("say", "str", spoken=True, constraints={"max_length": 3})])
    result = compiled.validate_output({"say": "too long"})
    assert result.errors == ["say: String should have at most 3 characters"]
    assert result.data["say"] == "too long"


def test_extra_keys_are_dropped_with_error(demo) -> None:
    result = demo.validate_output({**VALID, "mood": "grumpy"})
    assert result.errors == ["mood: unexpected field ignored"]
    assert "mood" not in result.data


def test_plain_text(demo) -> None:
    result = demo.validate_output("  Good morning. Passport, please.\n")
    assert result.errors == [PLAIN]
    assert result.data["system_response"] == "Good morning. Passport, please."
    assert result.data["red_flags"] == []
    assert demo.validate_output("```\nnot json\n```").errors == [PLAIN]
    assert demo.validate_output("[1, 2]").errors == [PLAIN]
    assert demo.validate_output("").data["system_response"] == ""


def test_truncated_json_recovers_partial_fields(demo) -> None:
    raw = '{"voice_instructions": "Calm", "system_response": "Tell me about your fund'
    result = demo.validate_output(raw)
    assert result.errors[0].startswith("invalid JSON:")
    assert result.data["voice_instructions"] == "Calm"
    assert result.data["system_response"] == "Tell me about your fund"


def test_garbage_json(demo) -> None:
    result = demo.validate_output('{"system_response": "Hi", oops}')
    assert result.errors[0].startswith("invalid JSON:")
    assert result.data["system_response"] == ""
    assert "system_response: Field required" in result.errors


def test_trailing_text(demo) -> None:
    result = demo.validate_output('{"system_response": "Hi"} and more')
    assert result.errors == ["ignored text after the JSON object"]
    assert result.data["system_response"] == "Hi"


def test_deeply_nested_json_does_not_raise(demo) -> None:
    raw = '{"system_response": "Hi", "internal_assessment": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = demo.validate_output(raw)
    assert not result.ok


def test_unsupported_input_type(demo) -> None:
    result = demo.validate_output(42)  # type: ignore[arg-type]
    assert result.errors[0] == "unsupported model output type int"
    assert result.data["system_response"] == ""


def test_dict_field_round_trip() -> None:
    compiled = compile_schema([FieldSpec("say", "str", spoken=True), FieldSpec("meta", "dict")])
    as_string = compiled.validate_output(
        json.dumps({"say": "x", "meta": json.dumps({"a": [1, None]})})
    )
    assert as_string.ok and as_string.data["meta"] == {"a": [1, None]}
    as_object = compiled.validate_output({"say": "x", "meta": {"b": 2}})
    assert as_object.ok and as_object.data["meta"] == {"b": 2}
    broken = compiled.validate_output({"say": "x", "meta": "{nope"})
    assert broken.errors == ["meta: Input should be a JSON object encoded as a string"]
    not_object = compiled.validate_output({"say": "x", "meta": "[1]"})
    assert not_object.errors == ["meta: Input should be a valid dictionary"]


def test_literal_types_are_exact() -> None:
    compiled = compile_schema(
        [FieldSpec("say", "str", spoken=True), FieldSpec("v", "list[Literal[1, True, 'a']]")]
    )
    ok = compiled.validate_output({"say": "x", "v": [1, True, "a"]})
    assert ok.ok and [type(v) for v in ok.data["v"]] == [int, bool, str]
    bad = compiled.validate_output({"say": "x", "v": [1.0, "1", False]})
    assert [e.split(":")[0] for e in bad.errors] == ["v.0", "v.1", "v.2"]


def test_floats_reject_nan() -> None:
    compiled = compile_schema([FieldSpec("say", "str", spoken=True), FieldSpec("f", "float")])
    assert compiled.validate_output('{"say": "x", "f": 2}').data["f"] == 2.0
    assert compiled.validate_output('{"say": "x", "f": NaN}').errors == [
        "f: Input should be a finite number"
    ]


def test_never_raises_on_internal_failure(demo, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "_validate", boom)
    result = demo.validate_output("{}")
    assert result.errors == ["could not validate model output: boom"]
    assert result.data["system_response"] == ""
