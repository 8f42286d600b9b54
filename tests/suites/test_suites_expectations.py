"""The expectation contract: validation errors with paths, safe patterns, each kind's verdict."""

from __future__ import annotations

import pytest

from agents_config.contracts import ContractError
from agents_config.test_suites.expectations import TurnView, parse_turns
from agents_config.test_suites.runner import _verdict, turn_changes

TURN = TurnView(
    data={"stage": "intro", "score": 7, "flags": ["late"], "note": "Calm", "nested": {"a": [1]}},
    spoken_text="Welcome! Your passport, please.",
)


def _check(expectation: dict) -> bool:
    [turn] = parse_turns([{"user": "hi", "expect": [expectation]}])
    return turn.expect[0].evaluate(TURN).passed


@pytest.mark.parametrize(
    ("expectation", "passed"),
    [
        ({"kind": "equals", "field": "stage", "value": "intro"}, True),
        ({"kind": "equals", "field": "nested.a.0", "value": 1}, True),
        ({"kind": "equals", "field": "missing", "value": None}, False),
        ({"kind": "one_of", "field": "stage", "values": ["intro", "end"]}, True),
        ({"kind": "range", "field": "score", "min": 7, "max": 7}, True),
        ({"kind": "range", "field": "stage", "min": 0}, False),  # not a number
        ({"kind": "contains", "field": "flags", "value": "late"}, True),
        ({"kind": "contains", "field": "score", "value": 7}, False),
        ({"kind": "matches", "field": "note", "pattern": "^Ca"}, True),
        ({"kind": "matches", "field": "score", "pattern": "7"}, False),  # not text
        ({"kind": "present", "field": "nested.a"}, True),
        ({"kind": "absent", "field": "nested.b"}, True),
        ({"kind": "spoken_contains", "value": "PASSPORT"}, True),
        ({"kind": "spoken_contains", "value": "PASSPORT", "case_sensitive": True}, False),
        ({"kind": "spoken_not_contains", "value": "visa"}, True),
        ({"kind": "valid"}, True),
    ],
)
def test_kinds(expectation, passed):
    assert _check(expectation) is passed


@pytest.mark.parametrize(
    ("turns", "path", "message"),
    [
        ([], "turns", "non-empty"),
        ([{"user": "hi", "expect": [{"kind": "nope"}]}], "turns[0].expect[0]", "tag"),
        ([{"user": "hi", "extra": 1}], "turns[0].extra", "Unknown key"),
        ([{"user": "hi", "expect": [{"kind": "range", "field": "x"}]}], "range", "min, max"),
        (
            [{"user": "hi", "expect": [{"kind": "matches", "field": "x", "pattern": "("}]}],
            "",
            "valid regular",
        ),
        (
            [{"user": "hi", "expect": [{"kind": "matches", "field": "x", "pattern": "(?=a)b"}]}],
            "",
            "look-around",
        ),
        (
            [{"user": "hi", "expect": [{"kind": "matches", "field": "x", "pattern": "a" * 501}]}],
            "",
            "500",
        ),
        (
            [{"user": "hi", "expect": [{"kind": "equals", "field": "a b", "value": 1}]}],
            "field",
            "pattern",
        ),
    ],
)
def test_invalid_cases_are_refused_with_paths(turns, path, message):
    with pytest.raises(ContractError) as exc:
        parse_turns(turns)
    text = str(exc.value)
    assert path in text and message in text, text


def test_judge_verdicts_and_changes():
    assert _verdict('{"pass": true, "reason": "ok"}', "m").passed is True
    assert _verdict('```json\n{"pass": false, "reason": "no"}\n```', "m").passed is False
    assert "did not answer JSON" in _verdict("yes", "m").detail
    assert "boolean" in _verdict('{"pass": "yes"}', "m").detail
    assert turn_changes(None, {"a": 1}) == []
    assert turn_changes({"data": {"a": 1, "gone": 2}}, {"a": 1, "b": 3}) == [
        {"field": "b", "before": None, "after": 3},
        {"field": "gone", "before": 2, "after": None},
    ]
