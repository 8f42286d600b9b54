"""The spoken field under a short key on the wire: the LLM writes ``{"say": "…"``, everything
else (validation, stored and published turns) sees the configured name."""

from __future__ import annotations

import json

from agents_config.schema import DEMO_FIELDS, compile_schema


def aliased(**kwargs):
    return compile_schema(DEMO_FIELDS, spoken_alias="say", **kwargs)


def test_the_wire_schema_names_the_spoken_field_by_its_alias_and_describes_it():
    schema = aliased(instructions_timing="next_turn")
    properties = schema.json_schema["properties"]
    assert list(properties)[:2] == ["say", "voice_instructions"]
    assert "system_response" not in properties
    assert schema.json_schema["required"][0] == "say"
    description = properties["say"]["description"]
    assert description.startswith(
        "The text spoken aloud to the user (the 'system_response' field)."
    )
    assert schema.response_format["json_schema"]["schema"] is schema.json_schema
    assert schema.property_order[0] == "system_response"  # configured names everywhere else


def test_an_aliased_answer_validates_under_the_configured_name():
    schema = aliased()
    answer = {
        "voice_instructions": "Calm.",
        "say": "Your passport, please.",
        "internal_assessment": "",
        "interview_stage": "document_check",
        "credibility_score": 5,
        "red_flags": [],
    }
    result = schema.validate_output(json.dumps(answer))
    assert result.ok, result.errors
    assert result.data["system_response"] == "Your passport, please."
    assert "say" not in result.data
    # A model that writes the configured name anyway is understood too.
    named = {**answer, "system_response": answer.pop("say")}
    assert schema.validate_output(json.dumps(named)).data["system_response"]


def test_the_extractor_streams_the_aliased_spoken_field():
    schema = aliased(instructions_timing="next_turn")
    text = json.dumps({"say": "Hello there.", "voice_instructions": "Warm.", "red_flags": []})
    extractor = schema.extractor()
    spoken = "".join(extractor.feed(text[i : i + 4]) for i in range(0, len(text), 4))
    assert spoken == "Hello there."
    assert extractor.spoken_closed
    assert extractor.finish().data["system_response"] == "Hello there."


def test_to_wire_renames_only_the_spoken_key_and_keeps_the_order():
    schema = aliased()
    data = {"voice_instructions": "x", "system_response": "Hi.", "credibility_score": 3}
    assert list(schema.to_wire(data)) == ["voice_instructions", "say", "credibility_score"]
    assert schema.from_wire(schema.to_wire(data)) == data
    plain = compile_schema(DEMO_FIELDS)
    assert plain.wire_spoken_key == "system_response" and plain.to_wire(data) == data


def test_an_alias_naming_another_field_is_not_used():
    schema = compile_schema(DEMO_FIELDS, spoken_alias="interview_stage")
    assert schema.wire_spoken_key == "system_response"
