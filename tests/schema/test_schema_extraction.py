"""StreamingExtractor unit tests: escapes and surrogates split everywhere, nesting, fallbacks."""

import asyncio
import json

import pytest

from agents_config.schema import DEMO_FIELDS, FieldSpec, compile_schema

DEMO = compile_schema(DEMO_FIELDS)
PLAIN = "model returned plain text instead of JSON"


def run(chunks, schema=DEMO, **kwargs):
    extractor = schema.extractor(**kwargs)
    deltas = list(extractor.iter(chunks))
    assert extractor.result is not None
    return deltas, extractor.result


def every_split(text: str):
    """All ways of cutting ``text`` into 1, 2 or 3 pieces."""
    yield [text]
    for i in range(1, len(text)):
        yield [text[:i], text[i:]]
        for j in range(i + 1, len(text)):
            yield [text[:i], text[i:j], text[j:]]


TRICKY = 'Say "hi" \\ / \n\t\b\f\r é 😀 \u2028 end'


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_escapes_split_at_every_point(ensure_ascii: bool) -> None:
    raw = '{"system_response":' + json.dumps(TRICKY, ensure_ascii=ensure_ascii) + "}"
    raw = raw.replace("/", "\\/")  # the optional \/ escape too
    for chunks in every_split(raw):
        deltas, result = run(chunks)
        assert "".join(deltas) == TRICKY, chunks
        assert result.spoken_text == TRICKY
        assert result.data["system_response"] == TRICKY
        assert result.ok


def test_surrogate_pairs_split_character_by_character() -> None:
    raw = '{"system_response": "a\\ud83d\\ude00b\\uD83C\\uDDEB\\uD83C\\uDDF7"}'
    expected = "a😀b🇫🇷"
    deltas, result = run(list(raw))
    assert "".join(deltas) == expected == json.loads(raw)["system_response"]
    assert result.data["system_response"] == expected
    assert all(not ("\ud800" <= ch <= "\udfff") for d in deltas for ch in d)


def test_unpaired_surrogates_match_json_loads() -> None:
    for body in ['"\\ud83d"', '"\\ud83dx"', '"\\ud83d\\n"', '"\\ud83d\\u0041"', '"\\ude00"']:
        raw = '{"system_response": ' + body + "}"
        expected = json.loads(raw)["system_response"]
        for chunks in every_split(raw):
            deltas, _ = run(chunks)
            assert "".join(deltas) == expected, chunks


def test_keys_split_and_escaped() -> None:
    raw = '{"sys\\u0074em_response"  :\n  "Hello"}'
    for chunks in every_split(raw):
        deltas, _ = run(chunks)
        assert "".join(deltas) == "Hello"


def test_text_streams_before_the_string_closes() -> None:
    extractor = DEMO.extractor()
    assert extractor.feed('{"system_response": "Good ') == "Good "
    assert extractor.feed("morning") == "morning"
    assert extractor.feed('", "red_flags": []}') == ""
    assert extractor.finish().data["system_response"] == "Good morning"


def test_nested_keys_are_not_spoken() -> None:
    schema = compile_schema(
        [
            FieldSpec("meta", "dict", required=False),
            FieldSpec("notes", "list[str]", required=False),
            FieldSpec("system_response", "str", spoken=True),
        ]
    )
    inner = {"system_response": "nested, do not say", "x": ["}", "{", '\\"]']}
    document = {
        "meta": inner,
        "notes": ['{"system_response": "no"}', "]"],
        "system_response": "Only this.",
    }
    raw = json.dumps(document)
    for size in (1, 2, 3, 7, len(raw)):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        deltas, result = run(chunks, schema)
        assert "".join(deltas) == "Only this."
        assert result.data["meta"] == inner
        assert result.ok


def test_other_value_kinds_are_skipped() -> None:
    schema = compile_schema(
        [
            FieldSpec("n", "float"),
            FieldSpec("b", "bool"),
            FieldSpec("z", "int", required=False),
            FieldSpec("s", "str"),
            FieldSpec("system_response", "str", spoken=True),
        ]
    )
    raw = '{"n":-1.5e3,"b":true,"z":null,"s":"x\\"y\\\\","system_response":"ok"}'
    for chunks in every_split(raw):
        deltas, result = run(chunks, schema)
        assert "".join(deltas) == "ok"
        assert result.data == {
            "n": -1500.0,
            "b": True,
            "z": None,
            "s": 'x"y\\',
            "system_response": "ok",
        }


def test_tts_callback_fires_before_first_spoken_text() -> None:
    events: list[tuple[str, str]] = []
    extractor = DEMO.extractor(on_tts_instructions=lambda v: events.append(("tts", v)))
    raw = json.dumps({"voice_instructions": "Stern.", "system_response": "Passport, please."})
    for i in range(0, len(raw), 4):
        delta = extractor.feed(raw[i : i + 4])
        if delta:
            events.append(("say", delta))
    assert events[0] == ("tts", "Stern.")
    assert "".join(v for k, v in events if k == "say") == "Passport, please."
    assert [k for k, _ in events].count("tts") == 1


def test_tts_callback_in_same_chunk_runs_before_return() -> None:
    seen: list[str] = []
    extractor = DEMO.extractor(on_tts_instructions=seen.append)
    delta = extractor.feed('{"voice_instructions": "Warm.", "system_response": "Hi')
    assert seen == ["Warm."] and delta == "Hi"


def test_tts_null_or_failing_callback() -> None:
    seen: list[str] = []
    run(['{"voice_instructions": null, "system_response": "x"}'], on_tts_instructions=seen.append)
    assert seen == []

    def broken(_: str) -> None:
        raise RuntimeError("tts down")

    deltas, result = run(
        ['{"voice_instructions": "a", "system_response": "x"}'], on_tts_instructions=broken
    )
    assert deltas == ["x"] and result.data["voice_instructions"] == "a"


def test_non_string_spoken_value_yields_nothing() -> None:
    deltas, result = run(['{"system_response": null, "red_flags": []}'])
    assert deltas == []
    assert result.spoken_text == "" and result.data["system_response"] == ""
    assert result.errors == ["system_response: Input should be a valid string"]


@pytest.mark.parametrize(
    "text", ["Hello there. Passport?", "  \n Hello  \n", "[not json]", "``nope", "`"]
)
def test_plain_text_fallback(text: str) -> None:
    for chunks in every_split(text):
        deltas, result = run(chunks)
        assert "".join(deltas) == text.strip()
        assert result.spoken_text == text.strip()
        assert result.is_structured is False
        assert result.errors == [PLAIN]
        assert result.data["system_response"] == text.strip()


def test_plain_text_streams_immediately() -> None:
    extractor = DEMO.extractor()
    assert extractor.feed("  Hel") == "Hel"
    assert extractor.feed("lo ") == "lo"
    assert extractor.feed(" there ") == "  there"
    assert extractor.finish().spoken_text == "Hello  there"


def test_code_fence_is_tolerated() -> None:
    raw = '```json\n{"system_response": "Fenced."}\n```'
    for chunks in every_split(raw):
        deltas, result = run(chunks)
        assert "".join(deltas) == "Fenced."
        assert result.is_structured and result.ok


def test_fence_with_plain_text_inside() -> None:
    raw = "```\nJust text\n```"
    deltas, result = run([raw[:4], raw[4:]])
    assert "".join(deltas) == raw and not result.is_structured


def test_truncated_stream_keeps_spoken_text() -> None:
    deltas, result = run(['{"system_response": "I was cut o'])
    assert "".join(deltas) == "I was cut o"
    assert result.data["system_response"] == "I was cut o"
    assert result.errors and result.errors[0].startswith("invalid JSON")


def test_broken_json_after_speech() -> None:
    deltas, result = run(['{"system_response": "Fine', '." ,, "x": 1}'])
    assert "".join(deltas) == "Fine."
    assert result.data["system_response"] == "Fine."
    assert result.errors


def test_invalid_escape_stops_extraction() -> None:
    deltas, result = run(['{"system_response": "a\\qb"}'])
    assert deltas == ["a"]
    assert result.errors


def test_only_first_spoken_occurrence_is_streamed() -> None:
    deltas, _ = run(['{"system_response": "one", "system_response": "two"}'])
    assert deltas == ["one"]


def test_trailing_content_after_object_is_ignored() -> None:
    deltas, result = run(['{"system_response": "x"}', ' {"system_response": "y"}'])
    assert deltas == ["x"]
    assert result.errors == ["ignored text after the JSON object"]


def test_finish_is_idempotent_and_feed_api() -> None:
    extractor = DEMO.extractor()
    extractor.feed('{"system_response": "x"}')
    first = extractor.finish()
    assert extractor.finish() is first and extractor.result is first
    assert first.raw_text == '{"system_response": "x"}'


def test_async_stream() -> None:
    raw = json.dumps(
        {"voice_instructions": "Calm.", "system_response": "Welcome.", "red_flags": ["x"]}
    )

    async def chunks():
        for i in range(0, len(raw), 3):
            await asyncio.sleep(0)
            yield raw[i : i + 3]

    async def main():
        extractor = DEMO.extractor()
        deltas = [d async for d in extractor.stream(chunks())]
        return deltas, extractor.result

    deltas, result = asyncio.run(main())
    assert "".join(deltas) == "Welcome."
    assert all(deltas)
    assert result.data["red_flags"] == ["x"] and result.is_structured


def test_empty_stream() -> None:
    deltas, result = run([])
    assert deltas == [] and result.spoken_text == ""
    assert result.errors == [PLAIN]
