"""The test-case contract: scripted user turns and expectations on the agent's structured turn.

An expectation is a JSON object with a ``kind``; ``evaluate`` checks it against one finished
turn and says why it passed or failed. ``llm_judge`` needs a model call, so the runner
(``agents_config.test_suites.runner``) evaluates it; everything else is pure.

``field`` is a dotted path into the structured turn (``red_flags.0`` indexes a list). Patterns
(``matches``) are compiled when the case is saved and run by ``agents_config.user_regex``
(RE2: linear time, length caps).

``tool_called`` / ``tool_not_called`` look at the turn's tool calls; ``ToolMock`` is what a
tool answers during a suite run (``AgentTestCase.tool_mocks``), so suites never call real
systems (``worker.tools.ToolEnvironment.mocks``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from agents_config.contracts import ContractError
from agents_config.user_regex import (
    MAX_PATTERN_LENGTH,
    UserRegexError,
    compile_user_regex,
    user_regex_search,
)

MAX_TURNS = 50
MAX_EXPECTATIONS = 30
FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z0-9_]{1,64}){0,5}$"
_MISSING = object()


@dataclass
class TurnView:
    """What an expectation looks at: the structured turn, its spoken text and its errors."""

    data: dict[str, Any]
    spoken_text: str
    errors: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """The turn's tool calls (``worker.tools.ToolCallRecord.as_dict``: name, arguments, ...)."""


@dataclass
class Outcome:
    passed: bool
    detail: str
    actual: Any = None


def field_value(data: Any, path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


class _Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def describe(self) -> str:
        raise NotImplementedError

    def evaluate(self, turn: TurnView) -> Outcome:
        raise NotImplementedError


class _FieldExpectation(_Expectation):
    field: str = Field(pattern=FIELD_PATH)

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING:
            return Outcome(False, f"{self.field} is missing")
        passed, detail = self.check(value)
        return Outcome(passed, detail, value)

    def check(self, value: Any) -> tuple[bool, str]:
        raise NotImplementedError


class Equals(_FieldExpectation):
    kind: Literal["equals"]
    value: Any

    def describe(self) -> str:
        return f"{self.field} == {self.value!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        return value == self.value, f"{self.field} is {value!r}"


class OneOf(_FieldExpectation):
    kind: Literal["one_of"]
    values: list[Any] = Field(min_length=1, max_length=100)

    def describe(self) -> str:
        return f"{self.field} in {self.values!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        return value in self.values, f"{self.field} is {value!r}"


class Range(_FieldExpectation):
    kind: Literal["range"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max is below min")
        return self

    def describe(self) -> str:
        if self.min is None:
            return f"{self.field} <= {self.max:g}"
        if self.max is None:
            return f"{self.field} >= {self.min:g}"
        return f"{self.min:g} <= {self.field} <= {self.max:g}"

    def check(self, value: Any) -> tuple[bool, str]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, f"{self.field} is {value!r}, not a number"
        passed = (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        return passed, f"{self.field} is {value!r}"


class Contains(_FieldExpectation):
    kind: Literal["contains"]
    value: Any

    def describe(self) -> str:
        return f"{self.field} contains {self.value!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        if isinstance(value, str):
            return isinstance(self.value, str) and self.value in value, f"{self.field}: {value!r}"
        if isinstance(value, list):
            return self.value in value, f"{self.field} is {value!r}"
        return False, f"{self.field} is {value!r}, neither text nor a list"


class Matches(_FieldExpectation):
    kind: Literal["matches"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_LENGTH)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_user_regex(value)
        except UserRegexError as exc:
            raise ValueError(str(exc)) from None
        return value

    def describe(self) -> str:
        return f"{self.field} matches /{self.pattern}/"

    def check(self, value: Any) -> tuple[bool, str]:
        if not isinstance(value, str):
            return False, f"{self.field} is {value!r}, not text"
        return user_regex_search(self.pattern, value), f"{self.field}: {value!r}"


class Present(_Expectation):
    kind: Literal["present"]
    field: str = Field(pattern=FIELD_PATH)

    def describe(self) -> str:
        return f"{self.field} is present"

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING or value is None:
            return Outcome(False, f"{self.field} is missing")
        return Outcome(True, f"{self.field} is {value!r}", value)


class Absent(_Expectation):
    kind: Literal["absent"]
    field: str = Field(pattern=FIELD_PATH)

    def describe(self) -> str:
        return f"{self.field} is absent"

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING or value is None:
            return Outcome(True, f"{self.field} is absent")
        return Outcome(False, f"{self.field} is {value!r}", value)


class _SpokenExpectation(_Expectation):
    value: str = Field(min_length=1, max_length=1000)
    case_sensitive: bool = False

    def _found(self, turn: TurnView) -> bool:
        if self.case_sensitive:
            return self.value in turn.spoken_text
        return self.value.casefold() in turn.spoken_text.casefold()


class SpokenContains(_SpokenExpectation):
    kind: Literal["spoken_contains"]

    def describe(self) -> str:
        return f"spoken text contains {self.value!r}"

    def evaluate(self, turn: TurnView) -> Outcome:
        return Outcome(self._found(turn), f"said {turn.spoken_text!r}", turn.spoken_text)


class SpokenNotContains(_SpokenExpectation):
    kind: Literal["spoken_not_contains"]

    def describe(self) -> str:
        return f"spoken text does not contain {self.value!r}"

    def evaluate(self, turn: TurnView) -> Outcome:
        return Outcome(not self._found(turn), f"said {turn.spoken_text!r}", turn.spoken_text)


class Valid(_Expectation):
    kind: Literal["valid"]

    def describe(self) -> str:
        return "the turn validates without errors"

    def evaluate(self, turn: TurnView) -> Outcome:
        if turn.errors:
            return Outcome(False, "; ".join(turn.errors), turn.errors)
        return Outcome(True, "no validation errors", [])


TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"
MAX_ARGUMENTS = 30


def _check_patterns(value: dict[str, str]) -> dict[str, str]:
    """Each pattern compiles in RE2 (``user_regex``), checked once when the case is saved."""
    for name, pattern in value.items():
        try:
            compile_user_regex(pattern)
        except UserRegexError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return value


def _argument_names(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ValueError(f"{name!r} is not an argument name")
    return value


class ToolCalled(_Expectation):
    """The turn called ``tool``; with ``arguments`` (exact values) and ``argument_patterns``
    (RE2, searched in the argument's text) one call must match them all. ``times``: exactly
    that many calls of the tool."""

    kind: Literal["tool_called"]
    tool: str = Field(pattern=TOOL_NAME)
    arguments: dict[str, Any] = Field(default_factory=dict, max_length=MAX_ARGUMENTS)
    argument_patterns: dict[str, str] = Field(default_factory=dict, max_length=MAX_ARGUMENTS)
    times: int | None = Field(default=None, ge=1, le=10)

    _names = field_validator("arguments", "argument_patterns")(_argument_names)

    @field_validator("argument_patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(f"patterns are 1 to {MAX_PATTERN_LENGTH} characters")
        return _check_patterns(value)

    def describe(self) -> str:
        wanted = [f"{k}={v!r}" for k, v in self.arguments.items()]
        wanted += [f"{k}~/{v}/" for k, v in self.argument_patterns.items()]
        text = f"tool {self.tool} called"
        if wanted:
            text += f" with {', '.join(wanted)}"
        if self.times is not None:
            text += f" {self.times} time(s)"
        return text

    def _mismatch(self, arguments: Any) -> str | None:
        """Why one call's arguments do not match (None: they do)."""
        if not isinstance(arguments, dict):
            return f"arguments {arguments!r} are not an object"
        for name, value in self.arguments.items():
            if name not in arguments:
                return f"{name} is missing"
            if arguments[name] != value:
                return f"{name} is {arguments[name]!r}"
        for name, pattern in self.argument_patterns.items():
            if name not in arguments:
                return f"{name} is missing"
            actual = arguments[name]
            text = actual if isinstance(actual, str) else json.dumps(actual, ensure_ascii=False)
            if not user_regex_search(pattern, text):
                return f"{name} is {actual!r}"
        return None

    def evaluate(self, turn: TurnView) -> Outcome:
        calls = [c for c in turn.tool_calls if c.get("name") == self.tool]
        actual = [c.get("arguments") for c in calls]
        if not calls:
            called = sorted({str(c.get("name")) for c in turn.tool_calls})
            return Outcome(
                False, f"{self.tool} was not called (called: {', '.join(called) or 'none'})", []
            )
        if self.times is not None and len(calls) != self.times:
            return Outcome(False, f"{self.tool} was called {len(calls)} time(s)", actual)
        reasons = [self._mismatch(c.get("arguments")) for c in calls]
        if any(reason is None for reason in reasons):
            return Outcome(True, f"{self.tool} called with {_short_json(actual)}", actual)
        return Outcome(
            False, f"{self.tool} called, but {'; '.join(r for r in reasons if r)}", actual
        )


class ToolNotCalled(_Expectation):
    kind: Literal["tool_not_called"]
    tool: str = Field(pattern=TOOL_NAME)

    def describe(self) -> str:
        return f"tool {self.tool} not called"

    def evaluate(self, turn: TurnView) -> Outcome:
        calls = [c.get("arguments") for c in turn.tool_calls if c.get("name") == self.tool]
        if calls:
            return Outcome(False, f"{self.tool} was called with {_short_json(calls)}", calls)
        return Outcome(True, f"{self.tool} was not called", [])


def _short_json(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LLMJudge(_Expectation):
    """An intent judged by a model: it sees the user text and the structured turn and answers
    JSON ``{"pass": bool, "reason": str}``."""

    kind: Literal["llm_judge"]
    intent: str = Field(min_length=1, max_length=1000)
    judge_model: str | None = Field(default=None, min_length=1, max_length=100)

    def describe(self) -> str:
        return f"judge: {self.intent}"

    def evaluate(self, turn: TurnView) -> Outcome:  # pragma: no cover - the runner judges
        raise RuntimeError("llm_judge expectations are evaluated by the suite runner")


Expectation = Annotated[
    Equals
    | OneOf
    | Range
    | Contains
    | Matches
    | Present
    | Absent
    | SpokenContains
    | SpokenNotContains
    | Valid
    | ToolCalled
    | ToolNotCalled
    | LLMJudge,
    Field(discriminator="kind"),
]
EXPECTATION_KINDS = (
    "equals",
    "one_of",
    "range",
    "contains",
    "matches",
    "present",
    "absent",
    "spoken_contains",
    "spoken_not_contains",
    "valid",
    "tool_called",
    "tool_not_called",
    "llm_judge",
)


class ScriptedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=4000)
    expect: list[Expectation] = Field(default_factory=list, max_length=MAX_EXPECTATIONS)


_TURNS = TypeAdapter(list[ScriptedTurn])


def parse_turns(data: Any) -> list[ScriptedTurn]:
    """Validated scripted turns; ``ContractError`` with paths like ``turns[0].expect[1]``."""
    if not isinstance(data, list) or not data:
        raise ContractError({"turns": ["Expected a non-empty list of turns."]})
    if len(data) > MAX_TURNS:
        raise ContractError({"turns": [f"At most {MAX_TURNS} turns."]})
    try:
        return _TURNS.validate_python(data)
    except ValidationError as exc:
        raise ContractError.from_pydantic(exc, prefix=("turns",)) from None


class ToolMock(BaseModel):
    """What a tool answers during a suite run: a fixed JSON ``result`` or an ``error`` the
    model hears (a tool error). Exactly one of the two."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result: Any = None
    error: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        if isinstance(value, dict) and ("result" in value) == ("error" in value):
            raise ValueError('give exactly one of "result" or "error"')
        return value


MAX_TOOL_MOCKS = 50
MAX_MOCK_RESULT_CHARS = 20_000
"""A mock's result as JSON, at most (the model sees at most ``response.max_chars``)."""
_MOCKS = TypeAdapter(dict[str, ToolMock])


def parse_tool_mocks(data: Any) -> dict[str, ToolMock]:
    """Validated mocks by tool name; ``ContractError`` with paths like
    ``tool_mocks.lookup_order.error``."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContractError({"tool_mocks": ["Expected a JSON object: tool name -> mock."]})
    if len(data) > MAX_TOOL_MOCKS:
        raise ContractError({"tool_mocks": [f"At most {MAX_TOOL_MOCKS} mocked tools."]})
    bad = [name for name in data if not re.fullmatch(TOOL_NAME, str(name))]
    if bad:
        raise ContractError({f"tool_mocks.{bad[0]}": ["Not a valid tool name."]})
    try:
        mocks = _MOCKS.validate_python(data)
    except ValidationError as exc:
        raise ContractError.from_pydantic(exc, prefix=("tool_mocks",)) from None
    for name, mock in mocks.items():
        try:
            size = len(json.dumps(mock.result)) if mock.error is None else 0
        except (TypeError, ValueError):
            size = MAX_MOCK_RESULT_CHARS + 1
        if size > MAX_MOCK_RESULT_CHARS:
            raise ContractError(
                {f"tool_mocks.{name}.result": [f"At most {MAX_MOCK_RESULT_CHARS} characters."]}
            )
    return mocks
